// The official `convex` npm ConvexClient kept alive across what happens to a real deployment
// while a client is connected, steered by tests/e2e/sync_peers.rs: at each step this prints
// `STEP <name>` and waits for a line on stdin (the test moves the stack's clock, or restarts the
// stack, and answers with `go [token]`). At the end it prints `RESULTS <json>`.
//
// Environment: CONVEX_URL; TOKEN_SHORT, a token for the demo user that expires in 60 s.
import { ConvexClient } from "convex/browser";
import { anyApi } from "convex/server";
import { createInterface } from "node:readline";
import WebSocket from "ws";

const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const results = {};

function within(promise, what, ms = 20000) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function step(name) {
  console.log(`STEP ${name}`);
  const { value } = await within(lines.next(), `the test's answer to ${name}`, 60000);
  return (value ?? "").split(" ").slice(1).join(" ");
}

const log = { urls: [], sent: [], received: [] };
const waiters = [];
const check = () => {
  for (const w of [...waiters]) {
    if (w.done()) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve();
    }
  }
};
const until = (done, what) =>
  within(
    new Promise((resolve) => {
      waiters.push({ done, resolve });
      check();
    }),
    what,
  );

class Recording extends WebSocket {
  constructor(address, protocols) {
    super(address, protocols);
    log.urls.push(address);
    this.addEventListener("message", (event) => {
      log.received.push(JSON.parse(event.data));
      check();
    });
    this.addEventListener("close", (event) => log.received.push({ type: "(close)", code: event.code }));
  }
  send(data) {
    log.sent.push(JSON.parse(data));
    super.send(data);
    check();
  }
}

const ofType = (list, type) => list.filter((m) => m.type === type);

async function scenarios() {
  const client = new ConvexClient(process.env.CONVEX_URL, { webSocketConstructor: Recording });
  // The same string every time until the test hands over a new one, so npm schedules no
  // refresh of its own: only the server's AuthError makes it fetch again.
  let token = process.env.TOKEN_SHORT;
  const fetches = [];
  client.setAuth(async ({ forceRefreshToken }) => {
    fetches.push(forceRefreshToken);
    return token;
  });
  const values = [];
  client.onUpdate(anyApi.users.current, {}, (value) => {
    values.push(value);
    check();
  });
  await until(() => values.some((v) => v?.kindeId), "the first value");

  // 10. The token expires on the live socket; the next mutation is refused before it runs, the
  // client fetches a new token, reconnects, and the mutation then runs once.
  token = await step("expire");
  const stored = await within(client.mutation(anyApi.users.store, {}), "the mutation");
  results.expiry = {
    stored,
    authErrors: ofType(log.received, "AuthError"),
    mutationResponses: ofType(log.received, "MutationResponse").length,
    mutationsSent: ofType(log.sent, "Mutation").length,
    sockets: log.urls.length,
    fetches,
    subscribed: values.at(-1)?.kindeId ?? null,
  };

  // 12. The socket is dropped after a mutation ran, before the Transition that confirms it:
  // npm sends it again on the next socket under the same session id, so the deployment answers
  // from its record instead of running it a second time.
  await step("cut");
  const sentBefore = ofType(log.sent, "Mutation").length;
  const socketsBeforeCut = log.urls.length;
  const again = await within(client.mutation(anyApi.users.store, {}), "the cut mutation");
  results.cut = {
    again,
    mutationsSent: ofType(log.sent, "Mutation").length - sentBefore,
    sockets: log.urls.length - socketsBeforeCut,
    sessions: new Set(ofType(log.sent, "Connect").map((c) => c.sessionId)).size,
  };

  // 16. The stack restarts under the client; a webhook changes the user meanwhile.
  const socketsBefore = log.urls.length;
  await step("restart");
  await until(() => values.some((v) => v?.firstName === "Danielle"), "the value after the restart");
  const connects = ofType(log.sent, "Connect");
  results.restart = {
    sockets: log.urls.length - socketsBefore,
    lastConnect: connects.at(-1),
    closes1011: log.received.filter((m) => m.type === "(close)" && m.code === 1011).length,
    firstName: values.at(-1)?.firstName ?? null,
  };
  await client.close();
}

try {
  await scenarios();
} catch (error) {
  results.failure = String(error.stack ?? error);
}
// The client logs to stdout too (reconnects and such): the results are the line marked RESULTS.
console.log(`RESULTS ${JSON.stringify(results)}`);
process.exit(0);
