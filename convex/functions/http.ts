import { httpRouter } from "convex/server";
import { internal } from "./_generated/api";
import { httpAction } from "./_generated/server";
import { verifyKindeWebhook, WebhookRejected } from "./webhook";

const http = httpRouter();

/**
 * Kinde's webhooks, at https://<deployment>.convex.site/kinde. 400 for anything not genuine or
 * malformed; 200 once applied, or when a retry repeats an event already applied.
 */
http.route({
  path: "/kinde",
  method: "POST",
  handler: httpAction(async (ctx, request) => {
    let event;
    try {
      event = await verifyKindeWebhook(request, process.env.KINDE_ISSUER_URL, Date.now());
    } catch (error) {
      if (error instanceof WebhookRejected) {
        return new Response(error.message, { status: 400 });
      }
      throw error;
    }
    const user = event.data.user;
    if (user !== undefined && ["user.created", "user.updated", "user.deleted"].includes(event.type)) {
      await ctx.runMutation(internal.users.applyKindeEvent, {
        eventId: event.event_id,
        type: event.type,
        kindeId: user.id,
        profile: {
          // Phone-only users arrive with an empty email.
          email: user.email ?? "",
          firstName: user.first_name ?? undefined,
          lastName: user.last_name ?? undefined,
          pictureUrl: user.image_url ?? undefined,
          phone: user.phone ?? undefined,
        },
      });
    }
    return new Response(null, { status: 200 });
  }),
});

export default http;
