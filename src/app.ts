import { type Context, Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import pkg from "../package.json";
import { hasAdminToken } from "./admin/auth";
import { adminRoutes } from "./admin/routes";
import { type AppEnv, adminTokenOf, ConfigError, checkConfig } from "./env";
import { ApiError, errorBody } from "./errors";
import { auditStore, koodriveClient } from "./services";
import { hrRoutes } from "./sources/hr/route";
import { oktaRoutes } from "./sources/okta/route";
import { ERROR_SCHEMA, ScimError } from "./sources/scim/resource";
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

/** What everyone but an authenticated admin is told while the configuration is broken: nothing specific. */
export const MISCONFIGURED_MESSAGE =
  "the service is not configured correctly; its operator finds the details in the logs";

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
    c.set("koodrive", koodriveClient(config, c.var.requestId));
    c.set("audit", auditStore(c.env.AUDIT, config));
    await next();
  });

  app.get("/healthz", (c) => c.json({ status: "ok", name: pkg.name, version: VERSION }));

  app.route("/webhooks/hr", hrRoutes());
  app.route("/webhooks/okta", oktaRoutes());
  app.route("/scim/v2", scimRoutes());
  app.route("/chatops/slack", slackRoutes());
  app.route("/chatops/teams", teamsRoutes());
  app.route("/", adminRoutes());

  app.notFound((c) => {
    const message = `no route for ${c.req.method} ${c.req.path}`;
    if (isScim(c.req.path)) return scimError(new ScimError("not_found", message), c.var.requestId);
    return c.json(errorBody("not_found", message, c.var.requestId), 404);
  });

  app.onError((err, c) => {
    const id = c.var.requestId ?? "unknown";
    const known = toApiError(err);
    if (!known) {
      console.error(
        JSON.stringify({ level: "error", requestId: id, msg: "unhandled error", error: String(err) }),
      );
    } else if (err instanceof ConfigError) {
      console.error(JSON.stringify({ level: "error", requestId: id, msg: err.message }));
    }
    const answer =
      known ?? new ApiError("internal", "internal error; quote the request id when reporting it");
    if (isScim(c.req.path)) return scimError(answer, id);
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

/** The caller-facing form of an error we know; undefined for anything unexpected (a bug: logged, 500). */
function toApiError(err: unknown): ApiError | undefined {
  if (err instanceof ApiError) return err;
  // An optional source's bad setting (sourceSecrets): logged by onError, told to no caller.
  if (err instanceof ConfigError) return new ApiError("misconfigured", MISCONFIGURED_MESSAGE);
  if (err instanceof HTTPException) {
    const status = err.status;
    const code = status === 413 ? "payload_too_large" : status === 401 ? "unauthorized" : "bad_request";
    return new ApiError(code, err.message || "bad request");
  }
  return undefined;
}

const isScim = (path: string) => path === "/scim/v2" || path.startsWith("/scim/v2/");

/** SCIM clients read RFC 7644 errors (`application/scim+json`); the body also carries our envelope. */
function scimError(err: ApiError, requestId: string): Response {
  const body = {
    schemas: [ERROR_SCHEMA],
    status: String(err.status),
    detail: err.message,
    ...(err instanceof ScimError && err.scimType ? { scimType: err.scimType } : {}),
    ...errorBody(err.code, err.message, requestId, err.details),
  };
  return new Response(JSON.stringify(body), {
    status: err.status,
    headers: { "content-type": "application/scim+json", "x-request-id": requestId },
  });
}
