import { cronJobs } from "convex/server";
import { internal } from "./_generated/api";

const crons = cronJobs();

// Uploads nobody saved: Convex keeps a blob until it is deleted, so this does it.
crons.interval("clean unsaved uploads", { hours: 1 }, internal.files.cleanUnsaved, {});

export default crons;
