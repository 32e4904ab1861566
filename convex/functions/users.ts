import { ConvexError, v } from "convex/values";
import type { UserIdentity } from "convex/server";
import { internalMutation, mutation, query, type MutationCtx, type QueryCtx } from "./_generated/server";

/** The caller's identity, or a ConvexError the app can switch on. */
export async function callerOrThrow(ctx: QueryCtx | MutationCtx): Promise<UserIdentity> {
  const identity = await ctx.auth.getUserIdentity();
  if (identity === null) {
    throw new ConvexError({ code: "UNAUTHENTICATED", message: "Sign in to continue." });
  }
  return identity;
}

export async function userByKindeId(ctx: QueryCtx | MutationCtx, kindeId: string) {
  return await ctx.db
    .query("users")
    .withIndex("by_kindeId", (q) => q.eq("kindeId", kindeId))
    .unique();
}

/** The caller's user document, or null before the webhook or `store` created it. */
export const current = query({
  args: {},
  handler: async (ctx) => {
    const identity = await callerOrThrow(ctx);
    return await userByKindeId(ctx, identity.subject);
  },
});

/**
 * Creates or refreshes the caller's document from the token, for when no webhook arrived. What
 * the token does not say is left as it is: Kinde's access tokens carry no email or names by
 * default, and the webhook's copy of them must survive a `store` made with one.
 */
export const store = mutation({
  args: {},
  handler: async (ctx) => {
    const identity = await callerOrThrow(ctx);
    const said = {
      email: identity.email || undefined,
      firstName: identity.givenName || undefined,
      lastName: identity.familyName || undefined,
      pictureUrl: identity.pictureUrl || undefined,
      phone: identity.phoneNumber || undefined,
    };
    const existing = await userByKindeId(ctx, identity.subject);
    if (existing === null) {
      return await upsert(ctx, identity.subject, { ...said, email: said.email ?? "" });
    }
    const known = Object.fromEntries(Object.entries(said).filter(([, value]) => value !== undefined));
    await ctx.db.patch(existing._id, { ...known, updatedAt: Date.now() });
    return existing._id;
  },
});

const profileFields = {
  email: v.string(),
  firstName: v.optional(v.string()),
  lastName: v.optional(v.string()),
  pictureUrl: v.optional(v.string()),
  phone: v.optional(v.string()),
};

type Profile = { email: string; firstName?: string; lastName?: string; pictureUrl?: string; phone?: string };

async function upsert(ctx: MutationCtx, kindeId: string, profile: Profile) {
  // Empty optional fields are removed rather than stored as "" (undefined drops a field).
  const fields = {
    email: profile.email,
    firstName: profile.firstName || undefined,
    lastName: profile.lastName || undefined,
    pictureUrl: profile.pictureUrl || undefined,
    phone: profile.phone || undefined,
  };
  const existing = await userByKindeId(ctx, kindeId);
  if (existing !== null) {
    await ctx.db.patch(existing._id, { ...fields, updatedAt: Date.now() });
    return existing._id;
  }
  return await ctx.db.insert("users", { kindeId, ...fields, updatedAt: Date.now() });
}

/** Applies one verified Kinde webhook event, once: the check and the write are one transaction. */
export const applyKindeEvent = internalMutation({
  args: {
    eventId: v.string(),
    type: v.string(),
    kindeId: v.string(),
    profile: v.object(profileFields),
  },
  handler: async (ctx, { eventId, type, kindeId, profile }) => {
    const seen = await ctx.db
      .query("webhookEvents")
      .withIndex("by_eventId", (q) => q.eq("eventId", eventId))
      .unique();
    if (seen !== null) return "duplicate";
    if (type === "user.created" || type === "user.updated") {
      await upsert(ctx, kindeId, profile);
    } else if (type === "user.deleted") {
      const existing = await userByKindeId(ctx, kindeId);
      if (existing !== null) await ctx.db.delete(existing._id);
    }
    await ctx.db.insert("webhookEvents", { eventId, receivedAt: Date.now() });
    return "applied";
  },
});
