import type { ApiFromModules, FilterApi, FunctionReference } from "convex/server";
import type * as files from "../files.js";
import type * as http from "../http.js";
import type * as users from "../users.js";
import type * as webhook from "../webhook.js";

declare const fullApi: ApiFromModules<{
  files: typeof files;
  http: typeof http;
  users: typeof users;
  webhook: typeof webhook;
}>;
export declare const api: FilterApi<typeof fullApi, FunctionReference<any, "public">>;
export declare const internal: FilterApi<typeof fullApi, FunctionReference<any, "internal">>;
