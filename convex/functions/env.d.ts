// Convex functions read deployment settings from `process.env` (`npx convex env set`, per
// deployment). The isolate has no Node: this is all of `process` it offers.
declare const process: { env: Record<string, string | undefined> };
