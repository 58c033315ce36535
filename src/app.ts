import { Hono } from "hono";
import { requestId } from "hono/request-id";
import pkg from "../package.json";
import { adminRoutes } from "./admin/routes";
import { type AppEnv, loadConfig } from "./env";
import { answerFor, errorBody } from "./errors";
import { auditStore } from "./services";
import { hrRoutes } from "./sources/hr/route";
import { oktaRoutes } from "./sources/okta/route";
import { scimRoutes } from "./sources/scim/route";
import { slackRoutes } from "./sources/slack/route";
import { teamsRoutes } from "./sources/teams/route";

export const VERSION: string = pkg.version;

/** Builds the Hono app: request id, services, one onError, routes. */
export function buildApp() {
  const app = new Hono<AppEnv>();

  app.use(requestId({ headerName: "x-request-id", limitLength: 64 }));

  app.get("/healthz", (c) => c.json({ status: "ok", name: pkg.name, version: VERSION }));

  // Configuration is parsed once per env and services are attached for every route after this point.
  app.use(async (c, next) => {
    const config = loadConfig(c.env);
    c.set("config", config);
    c.set("audit", auditStore(c.env.AUDIT, config));
    await next();
  });

  app.route("/webhooks/hr", hrRoutes());
  app.route("/webhooks/okta", oktaRoutes());
  app.route("/scim/v2", scimRoutes());
  app.route("/chatops/slack", slackRoutes());
  app.route("/chatops/teams", teamsRoutes());
  app.route("/", adminRoutes());

  app.notFound((c) => {
    const message = `no route for ${c.req.method} ${c.req.path}`;
    return c.json(errorBody("not_found", message, c.var.requestId), 404);
  });

  app.onError((err, c) => {
    const id = c.var.requestId ?? "unknown";
    const answer = answerFor(err, id);
    return c.json(errorBody(answer.code, answer.message, id, answer.details), answer.status);
  });

  return app;
}
