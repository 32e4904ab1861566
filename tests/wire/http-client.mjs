// Calls the local backend through the official `convex` npm package's ConvexHttpClient and prints
// what came back as one JSON object, for tests/e2e/wire.rs to check. Each call records either its
// value or the error the client raised, so a wire mismatch shows up as a difference, not a crash.
import { ConvexHttpClient } from "convex/browser";
import { anyApi } from "convex/server";

const client = new ConvexHttpClient(process.env.CONVEX_URL);

async function attempt(call) {
  try {
    return { value: await call() };
  } catch (error) {
    return { error: { name: error.name, message: String(error.message), data: error.data ?? null } };
  }
}

const page = { paginationOpts: { numItems: 5, cursor: null } };
const results = {};
results.anonymous = await attempt(() => client.query(anyApi.users.current, {}));
client.setAuth(process.env.CONVEX_TOKEN);
results.current = await attempt(() => client.query(anyApi.users.current, {}));
results.files = await attempt(() => client.query(anyApi.files.list, page));
results.stored = await attempt(() => client.mutation(anyApi.users.store, {}));
results.otherOwner = await attempt(() => client.query(anyApi.files.list, { ...page, kindeId: "kp_someone_else" }));
results.missing = await attempt(() => client.query(anyApi.users.everyone, {}));
results.wrongKind = await attempt(() => client.action(anyApi.users.current, {}));
results.noCursor = await attempt(() => client.query(anyApi.files.list, { paginationOpts: { numItems: 5 } }));
// consistentQuery reads /api/query_ts, then /api/query_at_ts at that timestamp.
results.consistent = await attempt(() => client.consistentQuery(anyApi.users.current, {}));
// `function` is the admin endpoint, /api/function: a user's token is refused.
results.anyFunction = await attempt(() => client.function(anyApi.users.current, undefined, {}));
// The raw page, to see how numbers are written on the wire.
const raw = await fetch(`${process.env.CONVEX_URL}/api/query`, {
  method: "POST",
  headers: { "Content-Type": "application/json", Authorization: `Bearer ${process.env.CONVEX_TOKEN}` },
  body: JSON.stringify({ path: "files:list", args: page, format: "json" }),
});
results.rawFiles = await raw.text();
client.setAuth(process.env.CONVEX_EXPIRED_TOKEN);
results.expired = await attempt(() => client.query(anyApi.users.current, {}));

console.log(JSON.stringify(results));
