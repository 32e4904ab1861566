// The contract cases in ../contract, shared with the local stack's backend (which runs them in
// crates/devstack/tests/contract.rs): the same data, identities, calls and expectations.
import { anyApi } from "convex/server";
import { ConvexError, type Value } from "convex/values";
import type { Id } from "../functions/_generated/dataModel";
import { describe, expect, test } from "vitest";
import { backend } from "./setup";

type Case = {
  name: string;
  users?: Array<Record<string, string>>;
  blobs?: Array<{ alias: string; contentType?: string; bytes: string; deleted?: boolean }>;
  files?: Array<{
    alias?: string;
    owner: string;
    name: string;
    contentType: string;
    size: number;
    ageHours: number;
    storageId?: string;
  }>;
  identity: Record<string, unknown> | null;
  call: { kind: "query" | "mutation" | "action"; path: string; args: Record<string, unknown> };
  expect: { value?: unknown; errorData?: unknown; errorKind?: "argument_validation" | "function_not_found" };
  after?: { blobs?: Record<string, "present" | "gone"> };
};

/** `"<blob:alias>"` and `"<file:alias>"` anywhere in `value`, replaced by the seeded ids. */
function resolve(value: unknown, ids: Map<string, string>): unknown {
  if (typeof value === "string") {
    const alias = /^<((?:blob|file):[^>]+)>$/.exec(value);
    return alias ? ids.get(alias[1]) ?? value : value;
  }
  if (Array.isArray(value)) return value.map((v) => resolve(v, ids));
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolve(v, ids)]));
  }
  return value;
}

const documents = import.meta.glob<{ cases: Case[] }>("../contract/*.json", { eager: true });

/** convex-test's wording for each error kind (see ../contract/README.md). */
function kindOf(message: string): string {
  if (/Validator error|ArgumentValidationError/.test(message)) return "argument_validation";
  if (/no such export|Could not find public function/.test(message)) return "function_not_found";
  return "other";
}

/** Every key the case names must match; `"<any>"` matches any present value. */
function matches(expected: unknown, actual: unknown): boolean {
  if (expected === "<any>") return actual !== null && actual !== undefined;
  if (Array.isArray(expected)) {
    return Array.isArray(actual) && actual.length === expected.length && expected.every((e, i) => matches(e, actual[i]));
  }
  if (expected !== null && typeof expected === "object") {
    return (
      actual !== null &&
      typeof actual === "object" &&
      Object.entries(expected).every(([key, value]) => matches(value, (actual as Record<string, unknown>)[key]))
    );
  }
  return expected === actual;
}

const cases = Object.entries(documents).flatMap(([file, document]) =>
  document.cases.map((c) => [`${file.split("/").pop()}: ${c.name}`, c] as const),
);

describe("contract", () => {
  test("has its cases", () => {
    expect(cases.length).toBeGreaterThanOrEqual(10);
  });

  test.each(cases)("%s", async (_name, c) => {
    const t = backend();
    const ids = new Map<string, string>();
    await t.run(async (ctx) => {
      for (const user of c.users ?? []) {
        await ctx.db.insert("users", { ...(user as { kindeId: string; email: string }), updatedAt: Date.now() });
      }
      for (const blob of c.blobs ?? []) {
        const type = blob.contentType ? { type: blob.contentType } : {};
        ids.set(`blob:${blob.alias}`, await ctx.storage.store(new Blob([blob.bytes], type)));
      }
      // Oldest first, so creation order matches the cases' ages.
      const files = [...(c.files ?? [])].sort((a, b) => b.ageHours - a.ageHours);
      for (const file of files) {
        const { ageHours: _age, alias, storageId: blob, ...fields } = file;
        const storageId = (blob ? resolve(blob, ids) : await ctx.storage.store(new Blob(["x"]))) as Id<"_storage">;
        const id = await ctx.db.insert("files", { ...fields, storageId });
        if (alias) ids.set(`file:${alias}`, id);
      }
      for (const blob of c.blobs ?? []) {
        if (blob.deleted) await ctx.storage.delete(ids.get(`blob:${blob.alias}`) as Id<"_storage">);
      }
    });
    const checkAfter = async () => {
      for (const [alias, state] of Object.entries(c.after?.blobs ?? {})) {
        const id = ids.get(`blob:${alias}`) as Id<"_storage">;
        const doc = await t.run((ctx) => ctx.db.system.get(id));
        expect(doc === null ? "gone" : "present", `blob ${alias} after the call`).toBe(state);
      }
    };
    const args = resolve(c.call.args, ids) as Record<string, unknown>;
    const caller = c.identity ? t.withIdentity(c.identity as { subject: string }) : t;
    const [module, name] = c.call.path.split(":");
    const ref = anyApi[module][name];
    const run = () =>
      c.call.kind === "query"
        ? caller.query(ref, args)
        : c.call.kind === "mutation"
          ? caller.mutation(ref, args)
          : caller.action(ref, args);

    if ("value" in c.expect) {
      const value = await run();
      expect(matches(c.expect.value, value ?? null), JSON.stringify(value)).toBe(true);
      await checkAfter();
      return;
    }
    let failure: unknown;
    try {
      await run();
    } catch (error) {
      failure = error;
    }
    expect(failure, "the call should fail").toBeDefined();
    if (c.expect.errorData !== undefined) {
      expect(failure).toBeInstanceOf(ConvexError);
      expect(matches(c.expect.errorData, (failure as ConvexError<Value>).data)).toBe(true);
    }
    if (c.expect.errorKind !== undefined) {
      expect(kindOf(String((failure as Error).message))).toBe(c.expect.errorKind);
    }
    await checkAfter();
  });
});
