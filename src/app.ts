import { type Context, Hono } from "hono";
import pkg from "../package.json";
import { ADMIN_OPERATIONS } from "./admin/api-operations";
import { hasAdminToken } from "./admin/auth";
import { openApiDocument } from "./admin/openapi";
import { requireRole } from "./admin/principal";
import { adminRoutes } from "./admin/routes";
import { consoleRoutes } from "./console/routes";
import { type AppEnv, adminTokenOf, ConfigError, checkConfig } from "./env";
import { ApiError, answerFor, errorBody, MISCONFIGURED_MESSAGE } from "./errors";
import { auditStore } from "./services";
import { hrRoutes } from "./sources/hr/route";
import { oktaRoutes } from "./sources/okta/route";
import { scimRoutes } from "./sources/scim/route";
import { slackRoutes } from "./sources/slack/route";
import { teamsRoutes } from "./sources/teams/route";

export const VERSION: string = pkg.version;

/**
 * A client's `X-Request-Id` is kept only when it is 1 to 64 of `[A-Za-z0-9._:-]` and starts with a letter
 * or digit: it is copied into logs, audit records, CSV exports and a response header, so it can hold no
 * line break, markup or quote, and cannot start a spreadsheet formula (`=`, `+`, `-`, `@`). Anything
 * else is replaced by a generated id.
 */
export const REQUEST_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;

export { MISCONFIGURED_MESSAGE } from "./errors";

/** Builds the Hono app: request id, services, one onError, routes. */
export function buildApp() {
  const app = new Hono<AppEnv>();

  app.use(async (c, next) => {
    const given = c.req.header("x-request-id");
    const id = given && REQUEST_ID.test(given) ? given : crypto.randomUUID();
    c.set("requestId", id);
    c.header("x-request-id", id);
    await next();
  });

  // Configuration is parsed once per env and services are attached for every route after this point.
  // A broken required setting answers every route (health check included) with 503 `misconfigured`.
  app.use(async (c, next) => {
    const config = checkConfig(c.env);
    if (config instanceof ConfigError) throw await configFailure(c, config);
    c.set("config", config);
    c.set("audit", auditStore(c.env.AUDIT, config));
    await next();
  });

  app.get("/healthz", (c) => c.json({ status: "ok", name: pkg.name, version: VERSION }));

  app.route("/webhooks/hr", hrRoutes());
  app.route("/webhooks/okta", oktaRoutes());
  app.route("/scim/v2", scimRoutes());
  app.route("/chatops/slack", slackRoutes());
  app.route("/chatops/teams", teamsRoutes());
  app.route("/console", consoleRoutes());
  app.route("/", adminRoutes());
  // The admin API described (OpenAPI 3.1, from the routes' own zod schemas): for anyone who may read it.
  app.get("/openapi.json", requireRole("viewer"), (c) => c.json(openApiDocument(ADMIN_OPERATIONS, VERSION)));

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

/**
 * The answer to a request that arrives while required configuration is missing or invalid. The log names
 * every bad variable (never a value); the caller learns nothing specific, unless it is the admin (a valid
 * ADMIN_TOKEN as bearer), who is told which variables are wrong. A broken ADMIN_TOKEN tells no one.
 */
async function configFailure(c: Context<AppEnv>, err: ConfigError): Promise<ApiError> {
  console.error(
    JSON.stringify({
      level: "error",
      requestId: c.var.requestId,
      msg: "invalid configuration",
      problems: err.problems,
    }),
  );
  const adminToken = adminTokenOf(c.env);
  if (adminToken && (await hasAdminToken(c, adminToken))) {
    return new ApiError("misconfigured", err.message, err.problems);
  }
  return new ApiError("misconfigured", MISCONFIGURED_MESSAGE);
}
