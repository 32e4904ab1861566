// The npm `ConvexClient`'s side of the update-latency benchmark (bench/src/live.rs, run by
// `cargo xtask bench`): it subscribes with `onUpdate` to the first page of `files:list`, as the
// app's window does, and prints `UPDATE <newest file's name>` the moment each update is handed
// to it, until its standard input closes. The benchmark stamps the line when it reads it, as it
// does the app's `kinvex files --watch --json`, so both cross a pipe the same way.
//
// Environment: CONVEX_URL; TOKEN, the demo person's token; NUM_ITEMS, the page size.
import { ConvexClient } from "convex/browser";
import { anyApi } from "convex/server";
import WebSocket from "ws";

const client = new ConvexClient(process.env.CONVEX_URL, { webSocketConstructor: WebSocket });
client.setAuth(async () => process.env.TOKEN);
client.onUpdate(
  anyApi.files.list,
  { paginationOpts: { numItems: Number(process.env.NUM_ITEMS), cursor: null } },
  (page) => process.stdout.write(`UPDATE ${page.page[0]?.name ?? ""}\n`),
  (error) => process.stdout.write(`ERROR ${String(error.message).split("\n")[0]}\n`),
);
process.stdin.on("end", () => client.close().then(() => process.exit(0)));
process.stdin.resume();
