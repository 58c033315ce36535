/** @jsxImportSource hono/jsx */
import { Hono } from "hono";
import { secureHeaders } from "hono/secure-headers";
import { requireRole } from "../admin/principal";
import type { AppEnv } from "../env";
import { ApiError } from "../errors";
import { limitBody } from "../http";
import { ASSET_MAX_AGE_S, ASSETS } from "./assets";
import { renderError } from "./errors";
import { formGuard } from "./http";
import { apiReferencePage } from "./pages/api";
import { auditPages } from "./pages/audit";
import { evidencePage } from "./pages/evidence";
import { holdsPages } from "./pages/holds";
import { identityPages } from "./pages/identities";
import { inboxPage } from "./pages/inbox";
import { offboardPages } from "./pages/offboard";
import { overviewPage } from "./pages/overview";
import { runPages } from "./pages/run";
import { runsListPage } from "./pages/runs";
import { suggestionPages } from "./pages/suggestions";
import { tokenPages } from "./pages/tokens";

/**
 * The largest body of a console form other than the identities upload (which has its own, the API's 5 MB):
 * a hold's reason is at most 500 characters, so 16 KB is ample and a flood is refused before it is read.
 */
export const MAX_FORM_BYTES = 16 * 1024;

/**
 * The console's security headers (hono/secure-headers): scripts, styles, images, fetches and form posts
 * from this origin only, never inline script, never framed (clickjacking), no referrer leaves the console.
 * @see https://hono.dev/docs/middleware/builtin/secure-headers
 */
const SECURITY_HEADERS = secureHeaders({
  contentSecurityPolicy: {
    defaultSrc: ["'none'"],
    scriptSrc: ["'self'"],
    styleSrc: ["'self'"],
    imgSrc: ["'self'"],
    connectSrc: ["'self'"],
    formAction: ["'self'"],
    frameAncestors: ["'none'"],
    baseUri: ["'none'"],
  },
  xFrameOptions: "DENY",
  referrerPolicy: "no-referrer",
  crossOriginResourcePolicy: "same-origin",
});

/**
 * The admin console at `/console` (issue 9 section 3): server-rendered pages over the same functions as the
 * admin API. Every page needs a verified principal with role viewer or more; writes need operator (retry,
 * confirm) or admin (holds, identities), are CSRF-checked form posts, and are audited as the verified actor.
 * The stylesheet and script are public (they hold no data) so that the sign-in error page is styled too.
 */
export function consoleRoutes() {
  const app = new Hono<AppEnv>();
  app.onError(renderError);
  app.use(SECURITY_HEADERS);

  app.get("/assets/:name", (c) => {
    const asset = ASSETS.get(c.req.path);
    if (!asset) throw new ApiError("not_found", "no such console asset");
    return c.body(asset.body, 200, {
      "content-type": asset.type,
      "cache-control": `public, max-age=${ASSET_MAX_AGE_S}, immutable`,
    });
  });

  app.use(requireRole("viewer"));
  app.use(formGuard());
  app.on(
    "POST",
    [
      "/runs/*",
      "/holds",
      "/holds/*",
      "/offboard",
      "/offboard/*",
      "/tokens",
      "/tokens/*",
      "/identities/suggestions/*",
    ],
    limitBody(MAX_FORM_BYTES),
  );
  app.use(async (c, next) => {
    await next();
    // Pages show people, runs and the audit trail: never kept by a shared cache or the browser's history.
    if (!c.res.headers.has("cache-control")) c.header("cache-control", "no-store");
  });

  app.route("/", overviewPage());
  app.route("/runs", runsListPage());
  app.route("/runs", runPages());
  app.route("/runs", evidencePage());
  app.route("/inbox", inboxPage());
  app.route("/holds", holdsPages());
  app.route("/identities/suggestions", suggestionPages());
  app.route("/identities", identityPages());
  app.route("/audit", auditPages());
  app.route("/offboard", offboardPages());
  app.route("/tokens", tokenPages());
  app.route("/api", apiReferencePage());

  app.all("*", () => {
    throw new ApiError("not_found", "no such console page");
  });
  return app;
}
