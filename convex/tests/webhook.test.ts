// Kinde's webhooks and their forgeries. A key pair made here plays the tenant's; the tenant's
// JWKS endpoint is answered by a stubbed fetch.
import { exportJWK, generateKeyPair, SignJWT, type JWK } from "jose";
import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { backend } from "./setup";

let tenant = 0;
let issuer = "";
let published: JWK[] = [];
let fetches = 0;

async function tenantKey(kid: string) {
  const { privateKey, publicKey } = await generateKeyPair("RS256", { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid, alg: "RS256", use: "sig" };
  return { privateKey, jwk };
}

beforeEach(() => {
  // A fresh tenant per test, so cached key sets never leak between tests.
  tenant += 1;
  issuer = `https://tenant-${tenant}.kinde.com`;
  process.env.KINDE_ISSUER_URL = issuer;
  published = [];
  fetches = 0;
  vi.stubGlobal("fetch", async (input: RequestInfo | URL) => {
    const url = String(input instanceof Request ? input.url : input);
    if (url === `${issuer}/.well-known/jwks.json`) {
      fetches += 1;
      return new Response(JSON.stringify({ keys: published }), { headers: { "content-type": "application/json" } });
    }
    return new Response("not found", { status: 404 });
  });
});

afterEach(() => {
  vi.unstubAllGlobals();
  vi.useRealTimers();
});

function event(type: string, eventId: string, user: Record<string, unknown>, at = new Date()) {
  return {
    type,
    event_id: eventId,
    event_timestamp: at.toISOString(),
    timestamp: at.toISOString(),
    source: "admin",
    data: { user: { is_suspended: false, is_password_reset_requested: false, organizations: [], ...user } },
  };
}

// As Kinde signs them: RS256 with the tenant's kid, and no iss, exp, iat or aud.
async function sign(payload: object, key: CryptoKey, kid: string, alg = "RS256") {
  return await new SignJWT(payload as Record<string, unknown>).setProtectedHeader({ alg, kid }).sign(key);
}

async function deliver(t: ReturnType<typeof backend>, body: string, contentType = "application/jwt") {
  return await t.fetch("/kinde", { method: "POST", headers: { "Content-Type": contentType, "webhook-id": "msg_1" }, body });
}

async function userDoc(t: ReturnType<typeof backend>, kindeId: string) {
  return await t.run((ctx) => ctx.db.query("users").withIndex("by_kindeId", (q) => q.eq("kindeId", kindeId)).unique());
}

describe("POST /kinde", () => {
  test("created, updated and deleted users are applied, each event once", async () => {
    const t = backend();
    const { privateKey, jwk } = await tenantKey("k1");
    published = [jwk];
    const created = event("user.created", "event_1", { id: "kp_web", email: "web@example.com", first_name: "Web" });
    expect((await deliver(t, await sign(created, privateKey, "k1"))).status).toBe(200);
    expect(await userDoc(t, "kp_web")).toMatchObject({ email: "web@example.com", firstName: "Web" });

    const updated = event("user.updated", "event_2", { id: "kp_web", email: "web@example.com", first_name: "Webb", phone: "+1 555" });
    expect((await deliver(t, await sign(updated, privateKey, "k1"))).status).toBe(200);
    expect(await userDoc(t, "kp_web")).toMatchObject({ firstName: "Webb", phone: "+1 555" });

    const deleted = event("user.deleted", "event_3", { id: "kp_web" });
    expect((await deliver(t, await sign(deleted, privateKey, "k1"))).status).toBe(200);
    expect(await userDoc(t, "kp_web")).toBeNull();

    // Kinde retries deliveries: the same event again is acknowledged, not applied again.
    expect((await deliver(t, await sign(created, privateKey, "k1"))).status).toBe(200);
    expect(await userDoc(t, "kp_web")).toBeNull();
  });

  test("forgeries and malformed deliveries get a 400 and change nothing", async () => {
    const t = backend();
    const { privateKey, jwk } = await tenantKey("k1");
    const impostor = await tenantKey("k1");
    published = [jwk];
    const created = event("user.created", "event_x", { id: "kp_forged", email: "forged@example.com" });
    const genuine = await sign(created, privateKey, "k1");

    const stale = event("user.created", "event_old", { id: "kp_forged", email: "f@example.com" }, new Date(Date.now() - 10 * 60 * 1000));
    const { event_id: _drop, ...withoutId } = created;
    const hs256 = await new SignJWT(created as unknown as Record<string, unknown>)
      .setProtectedHeader({ alg: "HS256", kid: "k1" })
      .sign(new TextEncoder().encode(JSON.stringify(jwk)));
    const [header, payload] = genuine.split(".");
    const unsigned = `${header}.${payload}.`;
    const none = `${btoa(JSON.stringify({ alg: "none", kid: "k1" })).replace(/=+$/, "")}.${payload}.`;

    const attempts: Array<[string, string, string?]> = [
      ["another key with the same kid", await sign(created, impostor.privateKey, "k1")],
      ["wrong content type", genuine, "application/json"],
      ["replayed from ten minutes ago", await sign(stale, privateKey, "k1")],
      ["not a JWT", "not-a-jwt"],
      ["no event_id", await sign(withoutId, privateKey, "k1")],
      ["HS256 keyed with the public key", hs256],
      ["signature stripped", unsigned],
      ["alg none", none],
    ];
    for (const [name, body, contentType] of attempts) {
      const response = await deliver(t, body, contentType);
      expect(response.status, name).toBe(400);
    }
    expect(await userDoc(t, "kp_forged")).toBeNull();
  });

  test("a key the backend has not seen yet is fetched once more", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const t = backend();
    const first = await tenantKey("k1");
    published = [first.jwk];
    const one = event("user.created", "event_a", { id: "kp_rot", email: "rot@example.com" });
    expect((await deliver(t, await sign(one, first.privateKey, "k1"))).status).toBe(200);
    expect(fetches).toBe(1);

    // The tenant rotates its key; a minute later a webhook arrives signed with the new one.
    const second = await tenantKey("k2");
    published = [second.jwk, first.jwk];
    vi.setSystemTime(Date.now() + 60_000);
    const two = event("user.updated", "event_b", { id: "kp_rot", email: "rot@example.com", first_name: "Rotated" });
    expect((await deliver(t, await sign(two, second.privateKey, "k2"))).status).toBe(200);
    expect(fetches).toBe(2);
    expect(await userDoc(t, "kp_rot")).toMatchObject({ firstName: "Rotated" });
  });
});
