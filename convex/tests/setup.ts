import { convexTest } from "convex-test";
import schema from "../functions/schema";

/** Every module of the project, for convex-test (it finds the root through `_generated`). */
export const modules = import.meta.glob("../functions/**/*.*s");

export function backend() {
  return convexTest(schema, modules);
}
