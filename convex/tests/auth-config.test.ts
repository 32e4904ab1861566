// @vitest-environment node
//
// `functions/auth.config.ts` evaluated the way a deployment evaluates it on `npx convex deploy`,
// which convex-test never does: bundled by esbuild (as the Convex CLI bundles it), run in a fresh
// global with nothing but the language, where `process.env` is a proxy that fails the push for
// every variable the deployment does not have ("Environment variable X is used in auth config
// file but its value was not set", even behind `||`), `Date` and `Math.random` are refused, and the
// default export must survive JSON. See get-convex/convex-backend
// crates/isolate/src/environment/auth_config.rs and npm-packages/udf-runtime/src/setup.ts.
import { build } from "esbuild";
import { fileURLToPath } from "node:url";
import vm from "node:vm";
import { describe, expect, test } from "vitest";

const AUTH_CONFIG = fileURLToPath(new URL("../functions/auth.config.ts", import.meta.url));
const ISSUER = "https://yourbusiness.kinde.com";
const CLIENT_ID = "0123456789abcdef0123456789abcdef";

/** Every variable each setup sets on its Convex deployment, as convex/README.md tells people. */
const SETUPS = {
  "access-token setup (API audience `convex`)": {
    env: { KINDE_ISSUER_URL: ISSUER, KINDE_CONVEX_APPLICATION_ID: "convex" },
    provider: { domain: ISSUER, applicationID: "convex" },
  },
  "ID-token setup (audience = the client id)": {
    env: { KINDE_ISSUER_URL: ISSUER, KINDE_CONVEX_APPLICATION_ID: CLIENT_ID },
    provider: { domain: ISSUER, applicationID: CLIENT_ID },
  },
};

interface Evaluation {
  config: unknown;
  read: string[];
}

async function bundledAuthConfig(): Promise<string> {
  const result = await build({
    entryPoints: [AUTH_CONFIG],
    bundle: true,
    write: false,
    platform: "browser",
    format: "iife",
    globalName: "__authConfig",
    logLevel: "silent",
  });
  return result.outputFiles[0].text;
}

/** Runs the bundle as the deployment does, with `variables` as the deployment's environment. */
async function evaluate(variables: Record<string, string>): Promise<Evaluation> {
  const read: string[] = [];
  const env = new Proxy(
    {},
    {
      get(_target, name) {
        if (typeof name !== "string") return undefined;
        read.push(name);
        if (!Object.hasOwn(variables, name)) {
          throw new Error(`Environment variable ${name} is used in auth config file but its value was not set`);
        }
        return variables[name];
      },
    },
  );
  const context = vm.createContext({ process: { env } });
  vm.runInContext(
    `Math.random = () => { throw new Error("Math.random unsupported when evaluating auth config file"); };
     Date = function () { throw new Error("Date unsupported when evaluating auth config file"); };`,
    context,
  );
  vm.runInContext(await bundledAuthConfig(), context, { filename: "auth.config.js" });
  const exported = vm.runInContext("__authConfig.default", context);
  if (exported === undefined || exported === null) {
    throw new Error("auth config file is missing default export");
  }
  // The deployment reads the export as JSON: functions and undefined values do not survive.
  return { config: JSON.parse(JSON.stringify(exported)), read };
}

describe("auth.config.ts as a deployment evaluates it", () => {
  for (const [setup, { env, provider }] of Object.entries(SETUPS)) {
    test(`the ${setup} deploys: it reads only the variables that setup sets and trusts its token`, async () => {
      const { config, read } = await evaluate(env);
      expect(config).toEqual({ providers: [provider] });
      expect(new Set(read)).toEqual(new Set(Object.keys(env)));
    });
  }

  test("a deployment missing a variable refuses the push and names the variable to set", async () => {
    for (const missing of ["KINDE_ISSUER_URL", "KINDE_CONVEX_APPLICATION_ID"]) {
      const env: Record<string, string> = { KINDE_ISSUER_URL: ISSUER, KINDE_CONVEX_APPLICATION_ID: "convex" };
      delete env[missing];
      await expect(evaluate(env)).rejects.toThrow(
        `Environment variable ${missing} is used in auth config file but its value was not set`,
      );
    }
  });
});
