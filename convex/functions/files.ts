import { paginationOptsValidator } from "convex/server";
import { ConvexError, v } from "convex/values";
import type { Id } from "./_generated/dataModel";
import { internalMutation, mutation, query, type MutationCtx, type QueryCtx } from "./_generated/server";
import { callerOrThrow } from "./users";

/** Most characters (code points) a file name may have once trimmed. */
export const MAX_NAME_CHARS = 255;

/** How old an unsaved upload is before `cleanUnsaved` deletes it: twice the upload URL's hour. */
export const UNSAVED_TTL_MS = 2 * 60 * 60 * 1000;

/** Control characters (Cc) and the bidirectional formatting characters that reorder text. */
const FORBIDDEN = /[\p{Cc}\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]/u;

/**
 * A file name as `save` keeps it: no control or text-direction characters (they make
 * `exe.txt` look like `txt.exe`), trimmed, not empty, at most MAX_NAME_CHARS. HTML is only text.
 * The local stack applies the same rules (crates/devstack/src/backend/files.rs).
 */
export function validName(name: string): string {
  const invalid = (message: string) => new ConvexError({ code: "INVALID_NAME", message });
  if (FORBIDDEN.test(name)) {
    throw invalid("A file name cannot contain control characters or text-direction characters. Rename the file and try again.");
  }
  const trimmed = name.trim();
  if (trimmed.length === 0) {
    throw invalid("A file name cannot be empty. Give the file a name and try again.");
  }
  if ([...trimmed].length > MAX_NAME_CHARS) {
    throw invalid(`A file name can be at most ${MAX_NAME_CHARS} characters. Shorten it and try again.`);
  }
  return trimmed;
}

async function fileByStorageId(ctx: QueryCtx | MutationCtx, storageId: Id<"_storage">) {
  return await ctx.db
    .query("files")
    .withIndex("by_storageId", (q) => q.eq("storageId", storageId))
    .first();
}

/** The orders `list` offers, each an index walk: ties fall to `_creationTime`, then `_id`. */
export const ORDERS = ["newest", "oldest", "name", "size"] as const;
export type Order = (typeof ORDERS)[number];

/**
 * The caller's files one page at a time, in `order`: `newest` (the default) or `oldest` first,
 * `name` A to Z by the name's UTF-8 bytes (as Convex indexes compare strings, so `Zebra` comes
 * before `apple`), or `size`, largest first. `search` keeps the files whose name contains it,
 * ignoring case; it filters each page after the index read it (Convex's filter expressions have
 * no substring test), so a page may hold fewer than `numItems` files, even none, while
 * `isDone` is still false. A cursor belongs to one `order` and `search`. The owner is the
 * verified identity, never an argument: naming another user is refused by the validator.
 */
export const list = query({
  args: {
    paginationOpts: paginationOptsValidator,
    order: v.optional(v.union(...ORDERS.map((o) => v.literal(o)))),
    search: v.optional(v.string()),
  },
  handler: async (ctx, { paginationOpts, order, search }) => {
    const identity = await callerOrThrow(ctx);
    const owner = identity.subject;
    const files = ctx.db.query("files");
    const walk = (() => {
      switch (order ?? "newest") {
        case "newest":
          return files.withIndex("by_owner", (q) => q.eq("owner", owner)).order("desc");
        case "oldest":
          return files.withIndex("by_owner", (q) => q.eq("owner", owner)).order("asc");
        case "name":
          return files.withIndex("by_owner_name", (q) => q.eq("owner", owner)).order("asc");
        case "size":
          return files.withIndex("by_owner_size", (q) => q.eq("owner", owner)).order("desc");
      }
    })();
    const result = await walk.paginate(paginationOpts);
    const needle = (search ?? "").trim().toLowerCase();
    if (needle === "") return result;
    return { ...result, page: result.page.filter((file) => file.name.toLowerCase().includes(needle)) };
  },
});

/** A short-lived URL the client POSTs the file's bytes to. */
export const generateUploadUrl = mutation({
  args: {},
  handler: async (ctx) => {
    await callerOrThrow(ctx);
    return await ctx.storage.generateUploadUrl();
  },
});

/**
 * Records an uploaded blob as the caller's file, with type and size as storage measured them.
 * The storage id is the capability: only the upload's answer reveals it (see README.md, "Who may
 * save a blob"), and a blob that a file already refers to cannot be saved again, by anyone.
 */
export const save = mutation({
  args: { storageId: v.id("_storage"), name: v.string() },
  handler: async (ctx, { storageId, name }) => {
    const identity = await callerOrThrow(ctx);
    const kept = validName(name);
    const stored = await ctx.db.system.get(storageId);
    if (stored === null) {
      throw new ConvexError({ code: "NOT_FOUND", message: "That upload does not exist. Upload the file again." });
    }
    if ((await fileByStorageId(ctx, storageId)) !== null) {
      throw new ConvexError({
        code: "ALREADY_SAVED",
        message: "That upload is already saved as a file. Upload the file again to save another copy.",
      });
    }
    return await ctx.db.insert("files", {
      owner: identity.subject,
      name: kept,
      contentType: stored.contentType ?? "application/octet-stream",
      size: stored.size,
      storageId,
    });
  },
});

/** Deletes one of the caller's files; another person's file reads as not found. */
export const remove = mutation({
  args: { id: v.id("files") },
  handler: async (ctx, { id }) => {
    const identity = await callerOrThrow(ctx);
    const file = await ctx.db.get(id);
    if (file === null || file.owner !== identity.subject) {
      throw new ConvexError({ code: "NOT_FOUND", message: "No such file." });
    }
    await ctx.storage.delete(file.storageId);
    await ctx.db.delete(id);
  },
});

/**
 * The URL of one of the caller's files, for downloading it: `null` when its blob is gone (say,
 * deleted from the dashboard); another person's file reads as not found.
 */
export const url = query({
  args: { id: v.id("files") },
  handler: async (ctx, { id }) => {
    const identity = await callerOrThrow(ctx);
    const file = await ctx.db.get(id);
    if (file === null || file.owner !== identity.subject) {
      throw new ConvexError({ code: "NOT_FOUND", message: "No such file." });
    }
    return await ctx.storage.getUrl(file.storageId);
  },
});

/**
 * Deletes uploads nobody saved (the client went away between the upload and `save`): blobs older
 * than UNSAVED_TTL_MS that no file refers to. Convex never deletes a blob by itself; crons.ts
 * runs this every hour. Returns how many it deleted.
 */
export const cleanUnsaved = internalMutation({
  args: {},
  handler: async (ctx) => {
    const before = Date.now() - UNSAVED_TTL_MS;
    let deleted = 0;
    for await (const blob of ctx.db.system.query("_storage")) {
      if (blob._creationTime >= before) break;
      if ((await fileByStorageId(ctx, blob._id)) === null) {
        await ctx.storage.delete(blob._id);
        deleted += 1;
      }
    }
    return deleted;
  },
});
