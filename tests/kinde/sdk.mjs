// Kinde's TypeScript SDK (PKCE client) and @kinde/js-utils signing in against the local provider:
// it builds the login and registration URLs, and once the test has played the browser, handles
// the callback, reads the user and claims, and refreshes twice (the SDK's way and js-utils').
//
// Input in the environment: KINDE_ISSUER_URL, KINDE_CLIENT_ID, KINDE_REDIRECT_URL,
// KINDE_AUDIENCE (space-separated). Protocol on stdio: prints one JSON line
// `{"login": URL, "register": URL}`, reads one line (the callback URL the browser reached, for the
// login URL), then prints one JSON line with the results. Tokens are never printed.

import { createInterface } from "node:readline";
import { createKindeServerClient, GrantType } from "@kinde-oss/kinde-typescript-sdk";
import * as utils from "@kinde/js-utils";

const env = (name) => {
  const value = process.env[name];
  if (!value) {
    console.error(`${name} is not set: the test that runs this script passes it`);
    process.exit(2);
  }
  return value;
};
const authDomain = env("KINDE_ISSUER_URL");
const clientId = env("KINDE_CLIENT_ID");
const redirectURL = env("KINDE_REDIRECT_URL");
const audience = env("KINDE_AUDIENCE").split(" ");

// The SDK's session manager contract, in memory.
class Session {
  items = new Map();
  async getSessionItem(key) {
    return this.items.get(key) ?? null;
  }
  async setSessionItem(key, value) {
    this.items.set(key, value);
  }
  async removeSessionItem(key) {
    this.items.delete(key);
  }
  async destroySession() {
    this.items.clear();
  }
}

const settle = async (work) => {
  try {
    return { value: await work() };
  } catch (error) {
    return { error: String(error?.message ?? error) };
  }
};

const client = createKindeServerClient(GrantType.PKCE, {
  authDomain,
  clientId,
  redirectURL,
  logoutRedirectURL: redirectURL,
  audience,
});
const session = new Session();
const login = await client.login(session);
const register = await client.register(new Session());
console.log(JSON.stringify({ login: login.toString(), register: register.toString() }));

const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const callback = (await lines.next()).value;
if (!callback) {
  console.error("no callback URL arrived on standard input");
  process.exit(2);
}

const results = {};
results.callback = await settle(() => client.handleRedirectToApp(session, new URL(callback)));
results.authenticated = await settle(() => client.isAuthenticated(session));
results.user = await settle(() => client.getUser(session));
results.profile = await settle(() => client.getUserProfile(session));
results.organization = await settle(() => client.getOrganization(session));
results.organizations = await settle(() => client.getUserOrganizations(session));
results.permissions = await settle(() => client.getPermissions(session));
results.flag = await settle(() => client.getFlag(session, "theme", "light"));
results.audienceClaim = await settle(() => client.getClaimValue(session, "aud"));

const idTokenBefore = await session.getSessionItem("id_token");
const accessTokenBefore = await session.getSessionItem("access_token");
const refreshed = await settle(() => client.refreshTokens(session));
results.refresh = {
  error: refreshed.error,
  returned: refreshed.value ? Object.keys(refreshed.value).sort() : undefined,
  tokenType: refreshed.value?.token_type,
  idTokenKept: (await session.getSessionItem("id_token")) !== null,
  idTokenReplaced: (await session.getSessionItem("id_token")) !== idTokenBefore,
  accessTokenReused: (await session.getSessionItem("access_token")) === accessTokenBefore,
};
results.afterRefresh = {
  authenticated: await settle(() => client.isAuthenticated(session)),
  user: await settle(() => client.getUser(session)),
  organizations: await settle(() => client.getUserOrganizations(session)),
};

// js-utils, as Kinde's React and Next.js SDKs use it, refreshing from the SDK's latest tokens
// and the last ID token the person was given (the SDK drops its own when a refresh has none).
const storage = new utils.MemoryStorage();
await storage.setItems({
  [utils.StorageKeys.accessToken]: await session.getSessionItem("access_token"),
  [utils.StorageKeys.idToken]: (await session.getSessionItem("id_token")) ?? idTokenBefore,
  [utils.StorageKeys.refreshToken]: await session.getSessionItem("refresh_token"),
});
utils.setActiveStorage(storage);
const jsRefresh = await utils.refreshToken({ domain: authDomain, clientId });
results.jsUtilsRefresh = {
  success: jsRefresh.success,
  error: jsRefresh.error,
  idTokenKept: (await storage.getSessionItem(utils.StorageKeys.idToken)) !== null,
  userOrganizations: await settle(() => utils.getUserOrganizations()),
};

console.log(JSON.stringify(results));
process.exit(0);
