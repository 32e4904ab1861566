import { ConvexError } from "convex/values";
import { afterEach, describe, expect, test, vi } from "vitest";
import { api, internal } from "../functions/_generated/api";
import { backend } from "./setup";

const ada = { subject: "kp_ada", issuer: "https://tenant.kinde.com", email: "ada@example.com", givenName: "Ada" };
const bob = { subject: "kp_bob", issuer: "https://tenant.kinde.com", email: "bob@example.com" };

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected the call to fail");
}

describe("users", () => {
  test("store creates the caller from the token and updates it later", async () => {
    const t = backend();
    const id = await t.withIdentity(ada).mutation(api.users.store, {});
    const again = await t.withIdentity({ ...ada, givenName: "Augusta" }).mutation(api.users.store, {});
    expect(again).toEqual(id);
    const me = await t.withIdentity(ada).query(api.users.current, {});
    expect(me).toMatchObject({ kindeId: "kp_ada", email: "ada@example.com", firstName: "Augusta" });
  });

  test("store with a token that carries no email or names keeps what the webhook wrote", async () => {
    const t = backend();
    await t.withIdentity(ada).mutation(api.users.store, {});
    const accessToken = { subject: ada.subject, issuer: ada.issuer };
    await t.withIdentity(accessToken).mutation(api.users.store, {});
    const me = await t.withIdentity(accessToken).query(api.users.current, {});
    expect(me).toMatchObject({ kindeId: "kp_ada", email: "ada@example.com", firstName: "Ada" });
  });

  test("every function needs a signed-in caller", async () => {
    const t = backend();
    for (const call of [
      t.query(api.users.current, {}),
      t.mutation(api.users.store, {}),
      t.query(api.files.list, { paginationOpts: { numItems: 1, cursor: null } }),
      t.mutation(api.files.generateUploadUrl, {}),
    ]) {
      const error = await rejection(call);
      expect(error).toBeInstanceOf(ConvexError);
      expect((error as ConvexError<{ code: string }>).data.code).toBe("UNAUTHENTICATED");
    }
  });
});

describe("files", () => {
  test("upload, list, and delete are the owner's alone", async () => {
    const t = backend();
    const upload = async (who: { subject: string; issuer: string }, name: string, bytes: string, type: string) => {
      const storageId = await t.run((ctx) => ctx.storage.store(new Blob([bytes], { type })));
      return await t.withIdentity(who).mutation(api.files.save, { storageId, name });
    };
    expect(await t.withIdentity(ada).mutation(api.files.generateUploadUrl, {})).toMatch(/^https?:\/\//);
    const adaFile = await upload(ada, "notes.txt", "hello", "text/plain");
    await upload(bob, "bob.txt", "secret!", "text/plain");

    const mine = await t.withIdentity(ada).query(api.files.list, { paginationOpts: { numItems: 10, cursor: null } });
    expect(mine.page).toHaveLength(1);
    expect(mine.page[0]).toMatchObject({ owner: "kp_ada", name: "notes.txt", contentType: "text/plain", size: 5 });

    // Bob cannot delete Ada's file, and cannot tell that it exists.
    const denied = await rejection(t.withIdentity(bob).mutation(api.files.remove, { id: adaFile }));
    expect((denied as ConvexError<{ code: string }>).data.code).toBe("NOT_FOUND");
    await t.withIdentity(ada).mutation(api.files.remove, { id: adaFile });
    const after = await t.withIdentity(ada).query(api.files.list, { paginationOpts: { numItems: 10, cursor: null } });
    expect(after.page).toHaveLength(0);
  });

  test("pages newest first without gaps or repeats", async () => {
    const t = backend();
    await t.run(async (ctx) => {
      for (let i = 0; i < 25; i++) {
        const storageId = await ctx.storage.store(new Blob(["x"]));
        await ctx.db.insert("files", { owner: "kp_ada", name: `f${i}`, contentType: "text/plain", size: 1, storageId });
      }
    });
    const names: string[] = [];
    let cursor: string | null = null;
    for (;;) {
      const page: { page: Array<{ name: string }>; isDone: boolean; continueCursor: string } = await t
        .withIdentity(ada)
        .query(api.files.list, { paginationOpts: { numItems: 10, cursor } });
      names.push(...page.page.map((f: { name: string }) => f.name));
      if (page.isDone) break;
      cursor = page.continueCursor;
    }
    expect(names).toEqual(Array.from({ length: 25 }, (_, i) => `f${24 - i}`));
  });

  test("a saved file's URL is its owner's alone, and a removed file's blob is deleted too", async () => {
    const t = backend();
    const storageId = await t.run((ctx) => ctx.storage.store(new Blob(["hello"], { type: "text/plain" })));
    const id = await t.withIdentity(ada).mutation(api.files.save, { storageId, name: "  notes.txt  " });
    const file = await t.run((ctx) => ctx.db.get(id));
    expect(file).toMatchObject({ name: "notes.txt", contentType: "text/plain", size: 5, storageId });
    expect(await t.withIdentity(ada).query(api.files.url, { id })).toMatch(/^https?:\/\//);
    const theirs = await rejection(t.withIdentity(bob).query(api.files.url, { id }));
    expect((theirs as ConvexError<{ code: string }>).data.code).toBe("NOT_FOUND");
    await t.withIdentity(ada).mutation(api.files.remove, { id });
    expect(await t.run((ctx) => ctx.db.system.get(storageId))).toBeNull();
  });
});

describe("unsaved uploads", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  test("cleanUnsaved deletes blobs no file refers to once two hours old, and keeps the rest", async () => {
    vi.useFakeTimers();
    const t = backend();
    const store = (text: string) => t.run((ctx) => ctx.storage.store(new Blob([text])));
    const unsaved = await store("unsaved");
    const saved = await store("saved");
    await t.withIdentity(ada).mutation(api.files.save, { storageId: saved, name: "kept.txt" });
    vi.advanceTimersByTime(90 * 60 * 1000);
    const young = await store("young");
    expect(await t.mutation(internal.files.cleanUnsaved, {})).toBe(0);
    vi.advanceTimersByTime(31 * 60 * 1000);
    expect(await t.mutation(internal.files.cleanUnsaved, {})).toBe(1);
    const left = await t.run(async (ctx) => (await ctx.db.system.query("_storage").collect()).map((b) => b._id));
    expect(left.sort()).toEqual([saved, young].sort());
    expect(left).not.toContain(unsaved);
  });
});
