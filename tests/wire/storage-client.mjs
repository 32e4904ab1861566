// Convex file storage through the official `convex` npm package, written as Convex's docs write a
// client upload (docs.convex.dev/file-storage/upload-files): a mutation returns an upload URL, a
// `fetch` POSTs the bytes with their `Content-Type`, the answer's `storageId` goes to a mutation,
// and a query returns the URL to GET. Prints what came back as one JSON object, for
// tests/e2e/storage_peers.rs to check; no step knows it talks to the local stack.
import { createHash } from "node:crypto";
import { ConvexHttpClient } from "convex/browser";
import { anyApi } from "convex/server";

const client = new ConvexHttpClient(process.env.CONVEX_URL);
client.setAuth(process.env.CONVEX_TOKEN);

const bytes = new TextEncoder().encode("Hello from the official client.\n");
const sha256 = (data) => createHash("sha256").update(data).digest("base64");
const results = {};

const postUrl = await client.mutation(anyApi.files.generateUploadUrl, {});
results.postUrl = postUrl;
const uploaded = await fetch(postUrl, {
  method: "POST",
  headers: { "Content-Type": "text/plain" },
  body: new Blob([bytes], { type: "text/plain" }),
});
results.uploadStatus = uploaded.status;
const { storageId } = await uploaded.json();
results.storageId = storageId;

const id = await client.mutation(anyApi.files.save, { storageId, name: "hello.txt" });
results.fileId = id;
const page = await client.query(anyApi.files.list, { paginationOpts: { numItems: 10, cursor: null } });
results.listed = page.page.find((file) => file._id === id) ?? null;

const url = await client.query(anyApi.files.url, { id });
results.url = url;
const got = await fetch(url);
const body = new Uint8Array(await got.arrayBuffer());
results.get = {
  status: got.status,
  contentType: got.headers.get("content-type"),
  contentLength: got.headers.get("content-length"),
  digest: got.headers.get("digest"),
  sha256: sha256(body),
  expectedSha256: sha256(bytes),
};
const part = await fetch(url, { headers: { Range: "bytes=0-4" } });
results.range = { status: part.status, contentRange: part.headers.get("content-range"), text: await part.text() };

try {
  await client.mutation(anyApi.files.save, { storageId, name: "again.txt" });
  results.saveAgain = { value: "saved twice" };
} catch (error) {
  results.saveAgain = { error: { name: error.name, data: error.data ?? null } };
}

await client.mutation(anyApi.files.remove, { id });
const gone = await fetch(url);
results.afterRemove = { status: gone.status, body: await gone.json() };

console.log(JSON.stringify(results));
