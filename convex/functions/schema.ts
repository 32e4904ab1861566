import { defineSchema, defineTable } from "convex/server";
import { v } from "convex/values";

export default defineSchema({
  // One document per Kinde user, keyed by the Kinde user id (the token's `sub`).
  users: defineTable({
    kindeId: v.string(),
    email: v.string(),
    firstName: v.optional(v.string()),
    lastName: v.optional(v.string()),
    pictureUrl: v.optional(v.string()),
    phone: v.optional(v.string()),
    updatedAt: v.number(),
  }).index("by_kindeId", ["kindeId"]),

  // File metadata; the bytes live in Convex file storage. `owner` is a Kinde user id. The index
  // ends in _creationTime implicitly, so a query on it pages newest-first without a scan.
  files: defineTable({
    owner: v.string(),
    name: v.string(),
    contentType: v.string(),
    size: v.number(),
    storageId: v.id("_storage"),
  })
    .index("by_owner", ["owner"])
    // `files:list` sorted by name (A to Z) or size (largest first).
    .index("by_owner_name", ["owner", "name"])
    .index("by_owner_size", ["owner", "size"])
    // `save` refuses a blob a file already refers to; `cleanUnsaved` keeps those.
    .index("by_storageId", ["storageId"]),

  // Kinde webhook deliveries already applied, so a retried delivery is acknowledged only.
  webhookEvents: defineTable({
    eventId: v.string(),
    receivedAt: v.number(),
  }).index("by_eventId", ["eventId"]),
});
