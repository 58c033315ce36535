/**
 * The control plane under /__sim/: reset, seed, inspect state and the call log, set faults and quirks.
 * Not part of KooDrive; guarded by `Authorization: Bearer <SIM_ADMIN_TOKEN>`.
 */
import type { AccessCerts } from "./access";
import { handleTaskControl } from "./control-tasks";
import { ENDPOINTS, type FaultEngine, parseFaultConfig } from "./faults";
import type { HookReceivers } from "./hooks";
import { CONTROL_PREFIX, MAX_CALLS_PER_READ } from "./limits";
import { DEFAULT_QUIRKS, type Quirks } from "./paging";
import { parseLimit, type TenantLimit } from "./ratelimit";
import { seedDemo, seedGenerated, seedUsers, type UserSpec } from "./seed";
import type { Store } from "./store";

const CODE_AS_STRING = ["never", "always", "alternate"] as const;
/** Seed used by `seed` bodies that name none. */
const DEFAULT_SEED = 1;

const json = (status: number, body: unknown): Response => Response.json(body, { status });
const bad = (error: string): Response => json(400, { error });

export interface ControlDeps {
  store: Store;
  faults: FaultEngine;
  adminToken: string;
  access: AccessCerts;
  hooks: HookReceivers;
  limit: TenantLimit;
}

export function readQuirks(store: Store): Quirks {
  return { ...DEFAULT_QUIRKS, ...store.getMeta<Partial<Quirks>>("quirks") };
}

async function readJson(request: Request): Promise<unknown> {
  const text = await request.text();
  if (text.trim() === "") return {};
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export async function handleControl(request: Request, url: URL, deps: ControlDeps): Promise<Response> {
  const { store, faults } = deps;
  if (request.headers.get("authorization") !== `Bearer ${deps.adminToken}`) {
    return json(401, { error: "control plane needs Authorization: Bearer <SIM_ADMIN_TOKEN>" });
  }
  const route = `${request.method} ${url.pathname.slice(CONTROL_PREFIX.length).replace(/\/+$/, "")}`;
  const q = url.searchParams;
  if (route.startsWith("GET /access") || route.startsWith("PUT /access"))
    return deps.access.control(request, route, q.get("host"));
  if (/^(GET|PUT|DELETE) \/hooks\//.test(route)) return deps.hooks.control(request, route);
  const taskAnswer = await handleTaskControl(request, route, q, store, readJson);
  if (taskAnswer) return taskAnswer;
  switch (route) {
    case "POST /reset":
      store.wipe();
      deps.access.wipe();
      deps.hooks.wipe();
      return json(200, { ok: true });
    case "POST /seed": {
      const body = await readJson(request);
      if (typeof body !== "object" || body === null) return bad("body must be a JSON object");
      return seed(store, body as Record<string, unknown>);
    }
    case "GET /users":
      return json(200, { users: store.sql.exec("SELECT * FROM users ORDER BY user_id").toArray() });
    case "GET /shares":
      return shares(store, q.get("owner"), q.get("state") ?? "all");
    case "GET /summary":
      return summary(store, q.get("owner"));
    case "GET /calls":
      return calls(store, Number(q.get("since") ?? 0), Number(q.get("limit") ?? MAX_CALLS_PER_READ));
    case "GET /stats": {
      const counted = store.counters("endpoint:");
      const endpoints = Object.fromEntries(ENDPOINTS.map((e) => [e, 0]));
      // `calls`: every KooDrive API call, answered or refused; requests outside the API (`foreign`) excluded.
      const calls = Object.entries(counted).reduce((n, [e, v]) => (e === "foreign" ? n : n + v), 0);
      return json(200, {
        endpoints: { ...endpoints, ...counted },
        statuses: store.counters("status:"),
        calls,
        limit: { config: deps.limit.config(), throttled: store.counters("limit:").throttled ?? 0 },
      });
    }
    case "GET /limit":
      return json(200, { limit: deps.limit.config() });
    case "PUT /limit": {
      const limit = parseLimit(await readJson(request));
      if (typeof limit === "string") return bad(limit);
      deps.limit.replace(limit);
      return json(200, { limit });
    }
    case "GET /faults":
      return json(200, faults.config());
    case "PUT /faults": {
      const config = parseFaultConfig(await readJson(request));
      if (typeof config === "string") return bad(config);
      faults.replace(config);
      return json(200, config);
    }
    case "DELETE /faults":
      faults.clear();
      return json(200, { ok: true });
    case "GET /quirks":
      return json(200, readQuirks(store));
    case "PUT /quirks": {
      const body = (await readJson(request)) as Partial<Quirks> | undefined;
      if (typeof body !== "object" || body === null) return bad("body must be a JSON object");
      const next = { ...readQuirks(store), ...body };
      if (
        typeof next.shortPages !== "boolean" ||
        typeof next.emptyPages !== "boolean" ||
        typeof next.taskListDtos !== "boolean"
      ) {
        return bad("shortPages, emptyPages and taskListDtos must be booleans");
      }
      if (!CODE_AS_STRING.includes(next.codeAsString))
        return bad("codeAsString must be never|always|alternate");
      const quirks: Quirks = {
        shortPages: next.shortPages,
        emptyPages: next.emptyPages,
        codeAsString: next.codeAsString,
        taskListDtos: next.taskListDtos,
      };
      store.setMeta("quirks", quirks);
      return json(200, quirks);
    }
    default:
      return json(404, { error: `no control route ${route}` });
  }
}

function seed(store: Store, body: Record<string, unknown>): Response {
  const seedValue = typeof body.seed === "number" ? body.seed : DEFAULT_SEED;
  if (body.demo === true) {
    store.wipe();
    return json(200, { users: seedDemo(store) });
  }
  if (Array.isArray(body.users)) {
    const result = seedUsers(store, body.users as UserSpec[], seedValue);
    return typeof result === "string" ? bad(result) : json(200, { users: result });
  }
  const gen = body.generate as { users?: unknown; sharesPerUser?: unknown; seed?: unknown } | undefined;
  if (gen && typeof gen === "object") {
    const { users, sharesPerUser } = gen;
    if (!Number.isInteger(users) || !Number.isInteger(sharesPerUser) || (users as number) < 0) {
      return bad("generate.users and generate.sharesPerUser must be integers");
    }
    const s = typeof gen.seed === "number" ? gen.seed : seedValue;
    const result = seedGenerated(store, users as number, sharesPerUser as number, s);
    return typeof result === "string" ? bad(result) : json(200, { users: result });
  }
  return bad('body must be {"demo":true}, {"users":[...]} or {"generate":{...}}');
}

function shares(store: Store, owner: string | null, state: string): Response {
  const where: string[] = [];
  const bindings: string[] = [];
  if (owner) {
    where.push("owner_id = ?");
    bindings.push(owner);
  }
  if (state === "active") where.push("cancelled_at IS NULL");
  else if (state === "cancelled") where.push("cancelled_at IS NOT NULL");
  else if (state !== "all") return bad("state must be active|cancelled|all");
  const clause = where.length ? `WHERE ${where.join(" AND ")}` : "";
  const rows = store.sql.exec(
    `SELECT share_id AS shareId, owner_id AS ownerId, scope, status, display_name AS displayName,
            cancelled_at AS cancelledAt, cancel_requests AS cancelRequests, cancel_successes AS cancelSuccesses,
            cancel_after_cancelled AS cancelAfterCancelled
     FROM shares ${clause} ORDER BY share_time DESC, share_id DESC`,
    ...bindings,
  );
  return json(200, { shares: rows.toArray() });
}

function summary(store: Store, owner: string | null): Response {
  const clause = owner ? "WHERE owner_id = ?" : "";
  const row = store.sql
    .exec<{ active: number; cancelled: number; double: number; maxSuccess: number }>(
      `SELECT coalesce(sum(cancelled_at IS NULL), 0) AS active, coalesce(sum(cancelled_at IS NOT NULL), 0) AS cancelled,
              coalesce(sum(cancel_after_cancelled), 0) AS double, coalesce(max(cancel_successes), 0) AS maxSuccess
       FROM shares ${clause}`,
      ...(owner ? [owner] : []),
    )
    .one();
  return json(200, {
    active: row.active,
    cancelled: row.cancelled,
    doubleCancelAttempts: row.double,
    maxCancelSuccesses: row.maxSuccess,
  });
}

function calls(store: Store, since: number, limit: number): Response {
  if (!Number.isFinite(since) || !Number.isInteger(limit) || limit < 1)
    return bad("since and limit must be integers");
  const rows = store.sql
    .exec<{ seq: number }>(
      `SELECT seq, at, method, path, query, endpoint, user_id AS userId, http_status AS status, code, ids, fault
       FROM calls WHERE seq > ? ORDER BY seq LIMIT ?`,
      since,
      Math.min(limit, MAX_CALLS_PER_READ),
    )
    .toArray();
  const head = store.sql.exec<{ seq: number }>("SELECT coalesce(max(seq), 0) AS seq FROM calls").one().seq;
  return json(200, { calls: rows, last: rows.at(-1)?.seq ?? head });
}
