// The official `convex` npm package's ConvexClient (the live-query client behind useQuery) against
// the local backend's sync socket, in Node with the `ws` package. Each scenario records what the
// client showed (values, errors, auth changes) and the frames on its socket, and the whole run is
// printed as one JSON object on a line of its own, after `RESULTS `, for tests/e2e/sync_peers.rs. Every wait is bounded.
//
// Environment: CONVEX_URL; TOKEN_A (given_name Dana) and TOKEN_B (given_name Robin) for the demo
// user, two distinct strings.
import { ConvexClient } from "convex/browser";
import { anyApi } from "convex/server";
import WebSocket from "ws";

const url = process.env.CONVEX_URL;
const TOKEN_A = process.env.TOKEN_A;
const TOKEN_B = process.env.TOKEN_B;

const uncaught = [];
let onUncaught = () => {};
process.on("uncaughtException", (error) => {
  uncaught.push(String(error.message));
  onUncaught();
});

function within(promise, what, ms = 10000) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/// A WebSocket class that records every frame, and may rewrite what the client sends.
function recorder(tamper = (m) => m) {
  const log = { urls: [], sent: [], received: [] };
  const waiters = [];
  const check = () => {
    for (const w of [...waiters]) {
      if (w.done(log)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  };
  class Recording extends WebSocket {
    constructor(address, protocols) {
      super(address, protocols);
      log.urls.push(address);
      this.addEventListener("message", (event) => {
        log.received.push(JSON.parse(event.data));
        check();
      });
      this.addEventListener("close", (event) => {
        log.received.push({ type: "(close)", code: event.code });
        check();
      });
    }
    send(data) {
      const message = tamper(JSON.parse(data));
      log.sent.push(message);
      super.send(JSON.stringify(message));
      check();
    }
  }
  const until = (done, what) =>
    within(
      new Promise((resolve) => {
        waiters.push({ done, resolve });
        check();
      }),
      what,
    );
  return { log, Recording, until };
}

function client(Recording) {
  return new ConvexClient(url, { webSocketConstructor: Recording });
}

/// The first value (or error) of a subscription that satisfies `wanted`.
function first(client, query, args, wanted = () => true) {
  return within(
    new Promise((resolve) => {
      const stop = client.onUpdate(
        query,
        args,
        (value) => {
          if (wanted(value)) {
            resolve({ value });
            setTimeout(() => stop(), 0);
          }
        },
        (error) => {
          resolve({ error: { name: error.name, message: String(error.message), data: error.data ?? null, hasData: "data" in error } });
          setTimeout(() => stop(), 0);
        },
      );
    }),
    `an update of ${JSON.stringify(args)}`,
  );
}

async function attempt(call) {
  try {
    return { value: await within(call(), "a call") };
  } catch (error) {
    return { error: { name: error.name, message: String(error.message), data: error.data ?? null } };
  }
}

const ofType = (log, type) => log.received.filter((m) => m.type === type);
const sentOfType = (log, type) => log.sent.filter((m) => m.type === type);
const results = {};

async function scenarios() {
  // 1. Subscribe: the first Transition starts at version zero and the value arrives.
  {
    const { log, Recording } = recorder();
    const c = client(Recording);
    c.setAuth(async () => TOKEN_A);
    const current = await first(c, anyApi.users.current, {}, (v) => v !== undefined);
    results.subscribe = {
      url: log.urls[0],
      value: current.value ?? null,
      error: current.error ?? null,
      firstStart: ofType(log, "Transition")[0]?.startVersion ?? null,
      connect: sentOfType(log, "Connect")[0] ?? null,
    };
    await c.close();
  }

  // 2. Two subscriptions to the same query share one Add; dropping both sends Remove.
  {
    const { log, Recording, until } = recorder();
    const c = client(Recording);
    c.setAuth(async () => TOKEN_A);
    let seen = 0;
    const one = c.onUpdate(anyApi.users.current, {}, () => seen++);
    const two = c.onUpdate(anyApi.users.current, {}, () => seen++);
    await until((l) => ofType(l, "Transition").some((t) => t.modifications.some((m) => m.type === "QueryUpdated")), "the value");
    one();
    two();
    await until((l) => ofType(l, "Transition").some((t) => t.modifications.some((m) => m.type === "QueryRemoved")), "QueryRemoved");
    const modifications = sentOfType(log, "ModifyQuerySet").flatMap((m) => m.modifications);
    results.dedupe = {
      adds: modifications.filter((m) => m.type === "Add").length,
      removes: modifications.filter((m) => m.type === "Remove").length,
      seen,
    };
    await c.close();
  }

  // 3. An awaited mutation returns once a Transition reached its ts: the subscription already
  // shows the write. Also with no subscription at all.
  {
    const { log, Recording } = recorder();
    const c = client(Recording);
    c.setAuth(async () => TOKEN_B);
    let latest = null;
    const stop = c.onUpdate(anyApi.users.current, {}, (v) => (latest = v));
    await first(c, anyApi.users.current, {}, (v) => v !== undefined);
    const stored = await attempt(() => c.mutation(anyApi.users.store, {}));
    const shown = latest?.firstName ?? null;
    const response = ofType(log, "MutationResponse")[0] ?? null;
    const decode = (ts) => Buffer.from(ts, "base64").readBigUInt64LE();
    const reached = response
      ? ofType(log, "Transition").some((t) => decode(t.endVersion.ts) >= decode(response.ts))
      : false;
    stop();
    await c.close();

    const { log: bareLog, Recording: Bare } = recorder();
    const bare = client(Bare);
    bare.setAuth(async () => TOKEN_A);
    const bareStored = await attempt(() => bare.mutation(anyApi.users.store, {}));
    await bare.close();
    results.mutation = { stored, shown, reached, response, bare: bareStored, bareQueries: sentOfType(bareLog, "ModifyQuerySet").flatMap((m) => m.modifications).length };
  }

  // 5, 6. Errors as the client raises them; the socket stays open throughout.
  {
    const { log, Recording } = recorder();
    const c = client(Recording);
    const anonymous = await first(c, anyApi.users.current, {});
    const missing = await first(c, anyApi.users.nope, {});
    const wrongKind = await attempt(() => c.mutation(anyApi.users.current, {}));
    const action = await attempt(() => c.action(anyApi.users.nope, {}));
    const badArgs = await first(c, anyApi.users.current, { kindeId: "kp_someone_else" });
    c.setAuth(async () => TOKEN_A);
    const after = await first(c, anyApi.users.current, {}, (v) => v !== undefined);
    results.errors = { anonymous, missing, wrongKind, action, badArgs, after, sockets: log.urls.length };
    await c.close();
  }

  // 7. setAuth: confirmed by the identity bump, then a forced fetch whose new token is sent too.
  {
    const { log, Recording, until } = recorder();
    const c = client(Recording);
    const fetches = [];
    const changes = [];
    c.setAuth(
      async ({ forceRefreshToken }) => {
        fetches.push(forceRefreshToken);
        return forceRefreshToken ? TOKEN_B : TOKEN_A;
      },
      (isAuthenticated) => changes.push(isAuthenticated),
    );
    await first(c, anyApi.users.current, {}, (v) => v !== undefined);
    await until((l) => sentOfType(l, "Authenticate").length >= 2, "the second Authenticate");
    await until(
      (l) => ofType(l, "Transition").filter((t) => t.endVersion.identity > t.startVersion.identity).length >= 2,
      "the second identity bump",
    );
    const current = await attempt(() => c.query(anyApi.users.current, {}));
    results.setAuth = {
      fetches,
      changes,
      authenticates: sentOfType(log, "Authenticate").map((m) => ({ baseVersion: m.baseVersion, tokenType: m.tokenType })),
      current,
    };
    await c.close();
  }

  // 8. A token the server refuses, then a fetcher with no token: anonymous, queries still served.
  {
    const { log, Recording, until } = recorder();
    const c = client(Recording);
    const changes = [];
    c.setAuth(async () => "not.a.jwt", (isAuthenticated) => changes.push(isAuthenticated));
    await until((l) => ofType(l, "AuthError").length >= 1, "an AuthError");
    const anonymous = await first(c, anyApi.users.current, {});
    results.invalid = { authError: ofType(log, "AuthError")[0], changes, anonymous };
    await c.close();

    const { Recording: NoToken } = recorder();
    const d = client(NoToken);
    const nullChanges = [];
    const changed = new Promise((resolve) =>
      d.setAuth(async () => null, (isAuthenticated) => {
        nullChanges.push(isAuthenticated);
        resolve();
      }),
    );
    await within(changed, "onChange after a null token");
    results.nullFetcher = { changes: nullChanges, current: await first(d, anyApi.users.current, {}) };
    await d.close();
  }

  // 15. A ModifyQuerySet with a wrong base version: FatalError, and the client gives up.
  {
    const tamper = (m) => (m.type === "ModifyQuerySet" && m.newVersion === 1 ? { ...m, baseVersion: 5 } : m);
    const { log, Recording, until } = recorder(tamper);
    const c = client(Recording);
    c.onUpdate(anyApi.users.current, {}, () => {}, () => {});
    await until((l) => ofType(l, "FatalError").length >= 1, "the FatalError");
    // The client throws from its message handler (so the error is uncaught) and terminates.
    await within(
      new Promise((resolve) => {
        onUncaught = resolve;
        if (uncaught.length > 0) resolve();
      }),
      "the client's fatal error",
    );
    results.fatal = { fatal: ofType(log, "FatalError")[0] ?? null, uncaught: [...uncaught], sockets: log.urls.length };
    await c.close();
  }
}

try {
  await scenarios();
} catch (error) {
  results.failure = String(error.stack ?? error);
}
// The client logs to stdout too (reconnects and such): the results are the line marked RESULTS.
console.log(`RESULTS ${JSON.stringify(results)}`);
process.exit(0);
