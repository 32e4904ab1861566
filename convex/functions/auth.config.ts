// Which tokens Convex accepts: Kinde's, from your tenant, carrying one audience.
//
// Both setups set the same two variables on the deployment (`npx convex env set NAME value`):
//   KINDE_ISSUER_URL             your tenant, https://<business>.kinde.com, no trailing slash
//   KINDE_CONVEX_APPLICATION_ID  the audience of the token the app sends:
//                                  `convex` in the access-token setup (an API with that audience),
//                                  the Kinde client id in the ID-token setup.
// The file reads exactly these two, whichever the setup: a deployment evaluates it and refuses
// the push when it reads a variable that is not set, even behind `||`, so a fallback from one
// variable to another cannot work there.
export default {
  providers: [
    {
      domain: process.env.KINDE_ISSUER_URL!,
      applicationID: process.env.KINDE_CONVEX_APPLICATION_ID!,
    },
  ],
};
