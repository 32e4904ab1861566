// Verifying Kinde's webhooks. Kinde POSTs an RS256 JWT (Content-Type: application/jwt) signed
// with the tenant's keys. It carries no `iss`, `exp`, `iat` or `aud`, so requiring any of them
// would reject every real webhook: the signature, a fresh `timestamp` and an unseen `event_id`
// are what make a delivery genuine.
import { createRemoteJWKSet, jwtVerify, type JWTVerifyGetKey } from "jose";

/** How far an event's `timestamp` may be from now before it counts as a replay. */
export const REPLAY_WINDOW_MS = 5 * 60 * 1000;

export type KindeUser = {
  id: string;
  email?: string | null;
  first_name?: string | null;
  last_name?: string | null;
  phone?: string | null;
  image_url?: string | null;
};

export type KindeEvent = {
  type: string;
  event_id: string;
  timestamp: string;
  data: { user?: KindeUser };
};

export class WebhookRejected extends Error {}

const keySets = new Map<string, JWTVerifyGetKey>();

/**
 * The tenant's key set. jose caches it and fetches it again when a token names an unknown `kid`
 * (after a key rotation), at most once per cooldown.
 */
function tenantKeys(issuer: string): JWTVerifyGetKey {
  let keys = keySets.get(issuer);
  if (keys === undefined) {
    keys = createRemoteJWKSet(new URL(`${issuer.replace(/\/+$/, "")}/.well-known/jwks.json`));
    keySets.set(issuer, keys);
  }
  return keys;
}

/** Checks a delivery and returns its event, or throws WebhookRejected saying why. */
export async function verifyKindeWebhook(request: Request, issuer: string | undefined, now: number): Promise<KindeEvent> {
  if (!issuer) {
    throw new WebhookRejected("KINDE_ISSUER_URL is not set on this deployment");
  }
  const contentType = (request.headers.get("content-type") ?? "").split(";")[0].trim().toLowerCase();
  if (contentType !== "application/jwt") {
    throw new WebhookRejected("Content-Type must be application/jwt");
  }
  const token = (await request.text()).trim();
  let payload: Record<string, unknown>;
  try {
    ({ payload } = await jwtVerify(token, tenantKeys(issuer), { algorithms: ["RS256"] }));
  } catch (error) {
    throw new WebhookRejected(`signature verification failed: ${(error as Error).message}`);
  }
  const event = payload as Partial<KindeEvent>;
  if (typeof event.type !== "string" || typeof event.event_id !== "string" || typeof event.timestamp !== "string") {
    throw new WebhookRejected("the event lacks type, event_id or timestamp");
  }
  const sent = Date.parse(event.timestamp);
  if (Number.isNaN(sent) || Math.abs(now - sent) > REPLAY_WINDOW_MS) {
    throw new WebhookRejected("the event's timestamp is outside the replay window");
  }
  if (event.type.startsWith("user.") && typeof event.data?.user?.id !== "string") {
    throw new WebhookRejected("a user event needs data.user.id");
  }
  return event as KindeEvent;
}
