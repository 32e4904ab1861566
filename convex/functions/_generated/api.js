// References to this project's functions (`api.users.current`, `internal.users.applyKindeEvent`).
// Written by hand so the project builds offline; `npx convex codegen` writes equivalents.
import { anyApi } from "convex/server";

export const api = anyApi;
export const internal = anyApi;
