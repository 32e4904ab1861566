// @vitest-environment node
//
// What the Convex CLI does to `functions/` before a push, run offline on a copy of the project:
// the committed `functions/_generated` is what it writes (`npm run codegen`: `convex codegen
// --system-udfs --typecheck disable`, no deployment needed), so a function added, renamed or removed
// without regenerating fails here; and its type-check, the one `npx convex deploy` runs (and skips
// without `functions/tsconfig.json`), passes.
import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { expect, test } from "vitest";

const PROJECT = fileURLToPath(new URL("..", import.meta.url));
const GENERATED = join("functions", "_generated");
/** The CLI formats its output with prettier; a cold start on a slow machine takes seconds. */
const CODEGEN_TIMEOUT_MS = 60_000;

function generatedFiles(root: string): Map<string, string> {
  const dir = join(root, GENERATED);
  return new Map(readdirSync(dir).sort().map((name) => [name, readFileSync(join(dir, name), "utf8")]));
}

/** A copy of the project in `scratch`: functions without `_generated`, the installed packages. */
function copyProject(scratch: string): void {
  cpSync(join(PROJECT, "convex.json"), join(scratch, "convex.json"));
  cpSync(join(PROJECT, "package.json"), join(scratch, "package.json"));
  cpSync(join(PROJECT, "functions"), join(scratch, "functions"), {
    recursive: true,
    filter: (source) => !source.startsWith(join(PROJECT, GENERATED)),
  });
  symlinkSync(join(PROJECT, "node_modules"), join(scratch, "node_modules"), "dir");
}

/** Runs `convex codegen --system-udfs --typecheck <typecheck>` in the copy. */
function codegen(scratch: string, typecheck: "disable" | "enable"): void {
  // Offline means offline: no deployment the CLI could pick up from the caller's environment.
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith("CONVEX_")));
  const run = spawnSync(
    process.execPath,
    [join(scratch, "node_modules", "convex", "bin", "main.js"), "codegen", "--system-udfs", "--typecheck", typecheck],
    { cwd: scratch, env, encoding: "utf8", timeout: CODEGEN_TIMEOUT_MS, stdio: ["ignore", "pipe", "pipe"] },
  );
  if (run.error || run.status !== 0) {
    throw new Error(`convex codegen --typecheck ${typecheck} failed (${run.error ?? `exit ${run.status}`}):\n${run.stdout}${run.stderr}`);
  }
}

function inScratchCopy(check: (scratch: string) => void): void {
  const scratch = mkdtempSync(join(tmpdir(), "kinvex-codegen-"));
  try {
    copyProject(scratch);
    check(scratch);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

test(
  "the committed _generated is exactly what `npm run codegen` writes offline",
  () => {
    inScratchCopy((scratch) => {
      codegen(scratch, "disable");
      const committed = generatedFiles(PROJECT);
      const fresh = generatedFiles(scratch);
      const hint = "functions/_generated is stale: run `npm run codegen` in convex/ and commit the result";
      expect([...committed.keys()], hint).toEqual([...fresh.keys()]);
      for (const [name, text] of fresh) {
        expect(committed.get(name), `${hint} (${name} differs)`).toBe(text);
      }
    });
  },
  CODEGEN_TIMEOUT_MS + 10_000,
);

test(
  "the Convex CLI type-checks the functions before a push and they pass",
  () => {
    // `--typecheck enable` fails where `npx convex deploy` (mode `try`) would silently skip:
    // "Found no convex/tsconfig.json to use to typecheck Convex functions".
    inScratchCopy((scratch) => codegen(scratch, "enable"));
  },
  CODEGEN_TIMEOUT_MS + 10_000,
);
