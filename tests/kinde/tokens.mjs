// Holds the local provider's key set, tokens and webhooks to Kinde's own packages: what
// @kinde/jwt-validator, @kinde/jwt-decoder, @kinde/js-utils and @kinde/webhooks make of them.
// Input in the environment: KINDE_ISSUER_URL, KINDE_ACCESS_TOKEN, KINDE_ID_TOKEN,
// KINDE_WEBHOOK_JWT. Prints one JSON object; tokens themselves are never printed.

import { validateToken } from "@kinde/jwt-validator";
import { jwtDecoder, TokenPart } from "@kinde/jwt-decoder";
import { decodeWebhook } from "@kinde/webhooks";
import * as utils from "@kinde/js-utils";

const env = (name) => {
  const value = process.env[name];
  if (!value) {
    console.error(`${name} is not set: the test that runs this script passes it`);
    process.exit(2);
  }
  return value;
};
const domain = env("KINDE_ISSUER_URL");
const accessToken = env("KINDE_ACCESS_TOKEN");
const idToken = env("KINDE_ID_TOKEN");
const webhookJwt = env("KINDE_WEBHOOK_JWT");

// The same token with one character of its signature changed.
const tampered = (token) => {
  const cut = token.length - 5;
  const swapped = token[cut] === "A" ? "B" : "A";
  return token.slice(0, cut) + swapped + token.slice(cut + 1);
};

const settle = async (work) => {
  try {
    return { value: await work() };
  } catch (error) {
    return { error: String(error?.message ?? error) };
  }
};

const validator = {
  access: await validateToken({ token: accessToken, domain }),
  id: await validateToken({ token: idToken, domain }),
  tampered: await validateToken({ token: tampered(accessToken), domain }),
};

const decoder = {
  accessHeader: jwtDecoder(accessToken, TokenPart.header),
  access: jwtDecoder(accessToken),
  id: jwtDecoder(idToken),
};

// js-utils reads claims from the storage a Kinde SDK keeps its tokens in.
const storage = new utils.MemoryStorage();
await storage.setItems({
  [utils.StorageKeys.accessToken]: accessToken,
  [utils.StorageKeys.idToken]: idToken,
});
utils.setActiveStorage(storage);
const jsUtils = {
  currentOrganization: await settle(() => utils.getCurrentOrganization()),
  userOrganizations: await settle(() => utils.getUserOrganizations()),
  permissions: await settle(() => utils.getPermissions()),
  roles: await settle(() => utils.getRoles()),
  flag: await settle(() => utils.getFlag("theme")),
  userProfile: await settle(() => utils.getUserProfile()),
  authenticated: await settle(() => utils.isAuthenticated()),
};

const webhook = {
  decoded: await settle(() => decodeWebhook(webhookJwt, domain)),
  tampered: await settle(() => decodeWebhook(tampered(webhookJwt), domain)),
};

console.log(JSON.stringify({ validator, decoder, jsUtils, webhook }));
