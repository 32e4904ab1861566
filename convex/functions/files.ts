import { paginationOptsValidator } from "convex/server";
import { ConvexError, v } from "convex/values";
import { mutation, query } from "./_generated/server";
import { callerOrThrow } from "./users";

/**
 * The caller's files, newest first, one page at a time. The owner is the verified identity,
 * never an argument: naming another user is refused by the validator.
 */
export const list = query({
  args: { paginationOpts: paginationOptsValidator },
  handler: async (ctx, { paginationOpts }) => {
    const identity = await callerOrThrow(ctx);
    return await ctx.db
      .query("files")
      .withIndex("by_owner", (q) => q.eq("owner", identity.subject))
      .order("desc")
      .paginate(paginationOpts);
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

/** Records an uploaded file for the caller, with type and size as storage measured them. */
export const save = mutation({
  args: { storageId: v.id("_storage"), name: v.string() },
  handler: async (ctx, { storageId, name }) => {
    const identity = await callerOrThrow(ctx);
    const stored = await ctx.db.system.get(storageId);
    if (stored === null) {
      throw new ConvexError({ code: "NOT_FOUND", message: "That upload does not exist." });
    }
    return await ctx.db.insert("files", {
      owner: identity.subject,
      name,
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
