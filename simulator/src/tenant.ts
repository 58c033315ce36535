/**
 * The whole simulated KooDrive tenant in one SQLite-backed Durable Object: routing, authentication,
 * fault injection, quirks and the call log around the endpoint handlers.
 */
import { DurableObject } from "cloudflare:workers";
import { ACCESS_CERTS_PATH, AccessCerts } from "./access";
import { Api, matchRoute } from "./api";
import { verifyAppAuth } from "./auth";
import { handleControl, readQuirks } from "./control";
import { FaultEngine } from "./faults";
import { HookReceivers } from "./hooks";
import { API_PREFIX, CONTROL_PREFIX, Code, GatewayCode, MAX_CALL_LOG_ROWS } from "./limits";
import type { Quirks } from "./paging";
import { TenantLimit } from "./ratelimit";
import { type ApiResult, fail, INNER_FAILURE } from "./result";
import { Store } from "./store";
import { settleTasks } from "./tasks";

/** The simulator's bindings (declared here: the main Worker's global Env differs). */
export interface SimEnv {
  TENANT: DurableObjectNamespace<Tenant>;
  SIM_APP_ID: string;
  SIM_APP_SECRET: string;
  SIM_ADMIN_TOKEN: string;
}

/** Trim the call log every this many calls, keeping the newest MAX_CALL_LOG_ROWS. */
const CALL_LOG_TRIM_EVERY = 1000;
/** The gateway's throttling answer, shared by the tenant limit and injected 429s [inferred: body not documented]. */
const THROTTLED_BODY = { code: GatewayCode.throttled, msg: "The throttling threshold has been reached" };
/** Answer for paths that are no KooDrive API (code as a string, like the gateway's) [inferred]. */
const NOT_FOUND_BODY = { code: String(Code.badRequest), msg: "no such API" };

export class Tenant extends DurableObject<SimEnv> {
  private readonly store: Store;
  private readonly faults: FaultEngine;
  private readonly access: AccessCerts;
  private readonly hooks: HookReceivers;
  private readonly limit: TenantLimit;

  constructor(ctx: DurableObjectState, env: SimEnv) {
    super(ctx, env);
    this.store = new Store(ctx.storage.sql, ctx.storage);
    this.faults = new FaultEngine(this.store);
    this.access = new AccessCerts(ctx.storage.sql);
    this.hooks = new HookReceivers(ctx.storage.sql);
    this.limit = new TenantLimit(this.store);
  }

  override async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    // Handover tasks move on with time: bring them up to now before anyone looks (see tasks.ts).
    settleTasks(this.store, Date.now());
    if (url.pathname === CONTROL_PREFIX || url.pathname.startsWith(`${CONTROL_PREFIX}/`)) {
      return handleControl(request, url, {
        store: this.store,
        faults: this.faults,
        adminToken: this.env.SIM_ADMIN_TOKEN,
        access: this.access,
        hooks: this.hooks,
        limit: this.limit,
      });
    }
    // The service's outbound events and notifications (not KooDrive): test receivers (hooks.ts).
    const hook = HookReceivers.nameOf(url.pathname);
    if (hook && request.method === "POST") return this.hooks.receive(hook, request);
    // Cloudflare Access's key set (not KooDrive): one per team domain, i.e. per Host.
    if (url.pathname === ACCESS_CERTS_PATH && request.method === "GET") return this.access.certs(url.host);
    if (url.pathname.startsWith(`${API_PREFIX}/`)) return this.api(request, url);
    // Not KooDrive at all (in tests every outbound fetch of the Worker lands here, e.g. a chat follow-up):
    // logged as `foreign`, so a test can see what else the Worker called.
    const result = { status: 404, body: NOT_FOUND_BODY };
    this.log(request, url, "foreign", null, result, null);
    return Response.json(NOT_FOUND_BODY, { status: 404 });
  }

  /**
   * One API call: auth (always first: an unsigned call is 401 whatever the faults), the tenant-wide limit
   * (a gateway throttles the app it has identified, before the backend looks at user or route), user,
   * route, faults, latency, handler. A call answered by a fault has no side effects, except `lostResponse`, whose whole
   * point is that it has them. Every call is logged.
   */
  private async api(request: Request, url: URL): Promise<Response> {
    // Raw bytes first: the signature covers exactly what was received.
    const body = new Uint8Array(await request.arrayBuffer());
    const route = matchRoute(request.method, url.pathname.slice(API_PREFIX.length));
    const auth = await verifyAppAuth({
      request,
      body,
      appId: this.env.SIM_APP_ID,
      appSecret: this.env.SIM_APP_SECRET,
      now: new Date(),
    });
    let result: ApiResult;
    let fault: string | null = null;
    let headers: Record<string, string> = {};
    const limited = auth.ok ? this.limit.take() : ({ ok: true } as const);
    if (!auth.ok) {
      result = { status: auth.status, body: { code: auth.code, msg: auth.msg } };
    } else if (!limited.ok) {
      fault = "tenantLimit";
      headers = { "Retry-After": String(limited.retryAfter) };
      result = { status: 429, body: THROTTLED_BODY };
      this.store.bump("limit:throttled");
    } else if (!this.store.user(auth.userId)) {
      // Disabled users (status 1) can still be acted as: app authentication names any user, and the
      // doc says disabling only stops sign-in [inferred].
      result = fail(Code.notFound, "user does not exist");
    } else if (!route) {
      result = { status: 404, body: NOT_FOUND_BODY };
    } else {
      const delay = this.faults.latencyFor(route.endpoint);
      const callFault = this.faults.callFault(route.endpoint);
      if (delay > 0) await scheduler.wait(delay);
      if (callFault.kind === "http429") {
        fault = "http429";
        headers = { "Retry-After": String(callFault.retryAfter) };
        result = { status: 429, body: THROTTLED_BODY };
      } else if (callFault.kind === "http5xx") {
        fault = `http${callFault.status}`;
        result = {
          status: callFault.status,
          body: { code: String(Code.innerFailure), msg: INNER_FAILURE },
        };
      } else {
        result = new Api(this.store, this.faults, readQuirks(this.store)).handle(
          route,
          auth.userId,
          url,
          body,
        );
        if (callFault.kind === "lostResponse") {
          // The work is done (and logged below as such), but the caller only sees a server error.
          fault = `lostResponse:${result.status}`;
          result = {
            status: callFault.status,
            body: { code: String(Code.innerFailure), msg: INNER_FAILURE },
            ...(result.ids ? { ids: result.ids } : {}),
          };
        }
      }
      if (delay > 0) fault = [fault, `latency:${delay}`].filter(Boolean).join(",");
    }
    if (result.note) fault = [fault, result.note].filter(Boolean).join(",");
    const responseBody = this.shapeCode(result);
    this.log(request, url, route?.endpoint ?? "unknown", auth.ok ? auth.userId : null, result, fault);
    return Response.json(responseBody, { status: result.status, headers });
  }

  /** The `code` 0 / "0" drift [api.md "Endpoints and transport"]: never, always, or every other success. */
  private shapeCode(result: ApiResult): Record<string, unknown> {
    if (result.body.code !== Code.ok) return result.body;
    const mode: Quirks["codeAsString"] = readQuirks(this.store).codeAsString;
    const asString = mode === "always" || (mode === "alternate" && this.store.bump("seq:success") % 2 === 0);
    return asString ? { ...result.body, code: "0" } : result.body;
  }

  private log(
    request: Request,
    url: URL,
    endpoint: string,
    userId: string | null,
    result: ApiResult,
    fault: string | null,
  ): void {
    const userHeader = request.headers.get("x-user-id");
    const seq = this.store.sql
      .exec<{ seq: number }>(
        `INSERT INTO calls (at, method, path, query, endpoint, user_id, http_status, code, ids, fault)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING seq`,
        Date.now(),
        request.method,
        url.pathname,
        url.search,
        endpoint,
        userId ?? userHeader,
        result.status,
        String(result.body.code ?? ""),
        result.ids ?? 0,
        fault,
      )
      .one().seq;
    this.store.bump(`endpoint:${endpoint}`);
    this.store.bump(`status:${result.status}`);
    if (seq % CALL_LOG_TRIM_EVERY === 0) {
      this.store.sql.exec("DELETE FROM calls WHERE seq <= ?", seq - MAX_CALL_LOG_ROWS);
    }
  }
}
