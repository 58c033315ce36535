/**
 * Test helpers for the KooDrive simulator: its control plane (`sim.*`) and a signed-request builder, with
 * knobs to forge every part of a request. Requests are signed with the simulator's own app-auth module
 * (written from the contract), never with the service's signer: the service's signer is what is under test,
 * and is checked against the simulator's verifier and the contract's known answers (test/signer.test.ts).
 * In tests, every outbound fetch is routed to the simulator (vitest.config.ts `outboundService`).
 */
import { signAppAuth } from "../../simulator/src/app-auth";

/**
 * Demo credentials; duplicated from vitest.config.ts (`SIM`), which cannot be imported inside workerd
 * (it pulls in Node-only build tooling).
 */
export const SIM = {
  appId: "demo-app-id-0000000000000000000000000000000000000000000000000000",
  appSecret: "demo-app-secret-change-me",
  adminToken: "demo-sim-admin-token",
} as const;

export const KOODRIVE_BASE = "https://intl.myhuaweicloud-koodrive.com";
export const API = "/koodrive/ose/v1";
const CONTROL_BASE = "http://sim.local/__sim";

/** Users of the demo tenant (`sim.seed({demo: true})`). */
export const DEMO = {
  admin: "1505084218764547200",
  leaver: "1505084218764547201",
  seller: "1505084218764547202",
} as const;

export interface SimShare {
  shareId: string;
  ownerId: string;
  scope: number;
  status: number;
  displayName: string;
  cancelledAt: number | null;
  cancelRequests: number;
  cancelSuccesses: number;
  cancelAfterCancelled: number;
}

export interface SimCall {
  seq: number;
  at: number;
  method: string;
  path: string;
  query: string;
  endpoint: string;
  userId: string | null;
  status: number;
  code: string;
  ids: number;
  fault: string | null;
}

/** A handover task as the control plane shows it (`GET /__sim/tasks`). */
export interface SimTask {
  taskId: string;
  srcUserId: string;
  dstUserId: string;
  actingUserId: string;
  /** 0 NEW, 1 EXECUTING, 2 SUCCESS, 3 FAILED. */
  status: number;
  resultCode?: string;
  fate: "succeed" | "fail" | "stuck";
  createdAt: number;
  endTime: number | null;
}

/** One user's state (`GET /__sim/users/{id}`): `removed` once a handover of theirs succeeded. */
export interface SimUserState {
  userId: string;
  exists: boolean;
  status: number | null;
  removed: { at: number; taskId: string } | null;
  handoverTo: string | null;
}

/** An entry of KooDrive's audit log as stored (the `logInfoList[]` shape). */
export interface SimAuditEntry {
  logId: string;
  operatorId: string;
  operatorName: string;
  operateTime: string;
  operation: string;
  resource: string;
  operateResult: number;
}

export interface SeededUser {
  userId: string;
  name: string;
  shareCount: number;
  shareIds?: string[];
}

async function control<T>(method: string, path: string, body?: unknown): Promise<T> {
  const init: RequestInit = { method, headers: { authorization: `Bearer ${SIM.adminToken}` } };
  if (body !== undefined) init.body = JSON.stringify(body);
  const res = await fetch(`${CONTROL_BASE}${path}`, init);
  const json = (await res.json()) as T;
  if (!res.ok) throw new Error(`sim ${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

/** The simulator's control plane. */
export const sim = {
  reset: () => control<{ ok: true }>("POST", "/reset"),
  seed: (body: unknown) => control<{ users: SeededUser[] }>("POST", "/seed", body),
  faults: (body: unknown) => control<unknown>("PUT", "/faults", body),
  clearFaults: () => control<{ ok: true }>("DELETE", "/faults"),
  quirks: (body: {
    shortPages?: boolean;
    emptyPages?: boolean;
    codeAsString?: "never" | "always" | "alternate";
    /** `GET /task/list` names its array `taskListDtos` instead of `taskList`. */
    taskListDtos?: boolean;
  }) => control<unknown>("PUT", "/quirks", body),
  shares: (owner: string, state: "active" | "cancelled" | "all" = "all") =>
    control<{ shares: SimShare[] }>("GET", `/shares?owner=${owner}&state=${state}`).then((r) => r.shares),
  summary: (owner: string) =>
    control<{ active: number; cancelled: number; doubleCancelAttempts: number; maxCancelSuccesses: number }>(
      "GET",
      `/summary?owner=${owner}`,
    ),
  calls: (since = 0, limit = 1000) =>
    control<{ calls: SimCall[]; last: number }>("GET", `/calls?since=${since}&limit=${limit}`),
  stats: () =>
    control<{
      endpoints: Record<string, number>;
      statuses: Record<string, number>;
      calls: number;
      limit: { config: { rps: number; burst: number } | null; throttled: number };
    }>("GET", "/stats"),
  /** How long tasks created from now on stay NEW, then EXECUTING (0 and 0: finished at creation). */
  taskTiming: (timing: { newMs?: number; executingMs?: number }) =>
    control<{ timing: { newMs: number; executingMs: number } }>("PUT", "/tasks", timing),
  /** Every handover task, oldest first (of one source user when `src` is given). */
  tasks: (src?: string) =>
    control<{ timing: { newMs: number; executingMs: number }; tasks: SimTask[] }>(
      "GET",
      src ? `/tasks?src=${src}` : "/tasks",
    ).then((r) => r.tasks),
  /** Changes how an unfinished task ends; releasing a stuck one ends it now. */
  taskFate: (taskId: string, fate: SimTask["fate"]) =>
    control<{ task: SimTask }>("PUT", `/tasks/${taskId}`, { fate }).then((r) => r.task),
  /** One user's status, whether a handover removed them, and their configured recipient. */
  user: (userId: string) => control<SimUserState>("GET", `/users/${userId}`),
  /** Sets (or with null clears) the recipient KooDrive's admin configured for a user's data. */
  handoverTo: (userId: string, to: string | null) =>
    control<{ userId: string; handoverTo: string | null }>("PUT", `/users/${userId}/handover`, { to }),
  /** KooDrive's audit log as stored, oldest first (of one resource when given). */
  auditLog: (resource?: string) =>
    control<{ entries: SimAuditEntry[] }>(
      "GET",
      resource ? `/auditlog?resource=${resource}` : "/auditlog",
    ).then((r) => r.entries),
  /** The tenant-wide rate limit: `{rps, burst?}` on, `{rps: null}` off. */
  limit: (body: { rps: number | null; burst?: number }) =>
    control<{ limit: { rps: number; burst: number } | null }>("PUT", "/limit", body),
};

/** What a test receiver got (`GET /__sim/hooks/<name>`): headers (lower-case names) and body as sent. */
export interface SimHookDelivery {
  seq: number;
  at: number;
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Test receivers of outbound events and notifications: `https://<any host>/__hooks/<name>`. */
export const hooks = {
  received: (name: string) =>
    control<{ received: SimHookDelivery[]; fail: number }>("GET", `/hooks/${name}`).then((r) => r.received),
  /** The next `n` deliveries to this receiver are answered 500. */
  fail: (name: string, n: number) => control<{ fail: number }>("PUT", `/hooks/${name}`, { fail: n }),
  clear: (name: string) => control<{ ok: true }>("DELETE", `/hooks/${name}`),
};

export interface SignedFetchInput {
  method?: string;
  /** Path below the API prefix, e.g. `/share`, or a full path starting with /koodrive. */
  path: string;
  query?: Record<string, string | number>;
  body?: unknown;
  userId: string;
  date?: Date;
  traceId?: string;
  appId?: string;
  appSecret?: string;
  /** Forgery knobs: sign a different URL or body than the one sent. */
  signUrl?: string;
  signBody?: string;
  /** Replaces the Authorization header entirely. */
  authorization?: string;
  signedHeaders?: string[];
}

/** Sends a KooDrive API request signed from the contract (demo credentials unless overridden). */
export async function signedFetch(input: SignedFetchInput): Promise<Response> {
  const method = input.method ?? "GET";
  const path = input.path.startsWith("/koodrive") ? input.path : `${API}${input.path}`;
  const url = new URL(path, KOODRIVE_BASE);
  for (const [k, v] of Object.entries(input.query ?? {})) url.searchParams.set(k, String(v));
  const body =
    input.body === undefined ? "" : typeof input.body === "string" ? input.body : JSON.stringify(input.body);
  const signed = await signAppAuth(
    {
      method,
      url: input.signUrl ?? url.toString(),
      userId: input.userId,
      date: input.date ?? new Date(),
      body: input.signBody ?? body,
      ...(input.signedHeaders ? { signedHeaders: input.signedHeaders } : {}),
    },
    { appId: input.appId ?? SIM.appId, appSecret: input.appSecret ?? SIM.appSecret },
  );
  const sent: Record<string, string> = { ...signed.headers };
  if (input.authorization !== undefined) sent.authorization = input.authorization;
  if (body !== "") sent["content-type"] = "application/json";
  if (input.traceId !== undefined) sent["x-traceid"] = input.traceId;
  const init: RequestInit = { method, headers: sent };
  if (body !== "") init.body = body;
  return fetch(url, init);
}

/** Follows nextCursor until it is absent; returns every page. */
export async function listAllPages(
  userId: string,
  pageSize: number,
  path = "/share",
): Promise<{ shareLinks: { shareId: string }[]; nextCursor?: string }[]> {
  const pages: { shareLinks: { shareId: string }[]; nextCursor?: string }[] = [];
  let cursor = "0";
  for (let guard = 0; guard < 10_000; guard++) {
    const res = await signedFetch({ path, userId, query: { pageSize, pageCursor: cursor } });
    if (res.status !== 200) throw new Error(`list page ${pages.length}: ${res.status} ${await res.text()}`);
    const page = (await res.json()) as {
      code: number | string;
      shareLinks: { shareId: string }[];
      nextCursor?: string;
    };
    if (Number(page.code) !== 0) throw new Error(`list page code ${page.code}`);
    pages.push(page);
    if (page.nextCursor === undefined) return pages;
    cursor = page.nextCursor;
  }
  throw new Error("listing never ended");
}
