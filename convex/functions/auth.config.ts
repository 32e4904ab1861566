// Which tokens Convex accepts: Kinde's, from your tenant.
//
// KINDE_ISSUER_URL is your tenant (https://<business>.kinde.com, no trailing slash).
// The application id is the audience the token must carry:
//   - access-token setup: register an API with audience `convex` in Kinde, have the app send
//     `audience=convex` and the access token; set KINDE_AUDIENCE=convex here.
//   - ID-token setup (Kinde's current guide): the app sends the ID token, whose audience is the
//     Kinde client id; leave KINDE_AUDIENCE unset and set KINDE_CLIENT_ID.
// Set these on the Convex dashboard for each deployment (dev and prod).
export default {
  providers: [
    {
      domain: process.env.KINDE_ISSUER_URL!,
      applicationID: process.env.KINDE_AUDIENCE || process.env.KINDE_CLIENT_ID!,
    },
  ],
};
