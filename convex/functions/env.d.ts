// Convex functions read deployment settings from `process.env` (set on the Convex dashboard).
declare const process: { env: Record<string, string | undefined> };
