import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import { requestId } from "hono/request-id";
import pkg from "../package.json";
import { adminRoutes } from "./admin/routes";
import { type AppEnv, ConfigError, loadConfig } from "./env";
import { ApiError, errorBody } from "./errors";
import { auditStore } from "./services";
import { hrRoutes } from "./sources/hr/route";
import { oktaRoutes } from "./sources/okta/route";
import { ERROR_SCHEMA, ScimError } from "./sources/scim/resource";
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

/** The caller-facing form of an error we know; undefined for anything unexpected (a bug: logged, 500). */
function toApiError(err: unknown): ApiError | undefined {
  if (err instanceof ApiError) return err;
  if (err instanceof ConfigError) return new ApiError("misconfigured", err.message);
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
