/**
 * The fault engine: throttling, server errors, latency and per-share cancel failures, driven by a seeded
 * PRNG so that a given rule set and call sequence always fails the same way.
 * Rules and PRNG state live in the `meta` table, so they survive Durable Object eviction.
 */
import type { Store } from "./store";

/** Endpoint names used by fault rules, the call log and `/__sim/stats`. */
export const ENDPOINTS = [
  "list",
  "cancel",
  "detail",
  "received",
  "exit",
  "userList",
  "userGet",
  "userUpdate",
  "taskCreate",
  "taskGet",
  "taskList",
  "dstUserInfo",
  "auditlog",
] as const;
export type Endpoint = (typeof ENDPOINTS)[number];

/**
 * `lostResponse` applies the call's side effects and then answers 5xx, as when KooDrive processed a
 * request but the answer never reached us (a crash or timeout between the two): the case that makes a
 * naive retry cancel a share twice (or, on `taskCreate`, start a second handover).
 * Decided inside the handler, not instead of it:
 * - `taskFailure` (taskCreate): the task created runs and ends FAILED (status 3, resultCode 18000205);
 * - `taskStuck` (taskCreate): the task created stays EXECUTING until the control plane releases it;
 * - `auditOmit` (cancel, optionally `shareIds`): a share is cancelled but KooDrive's audit log records no
 *   entry for it, so evidence can read "N of M" with N < M;
 * - `shareFailure` (cancel, optionally `shareIds`): that share's cancel fails with 13000201.
 */
export const FAULT_KINDS = [
  "http429",
  "http5xx",
  "latency",
  "shareFailure",
  "lostResponse",
  "taskFailure",
  "taskStuck",
  "auditOmit",
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** Statuses an http5xx rule may answer with. */
export const FAULT_5XX_STATUSES = [500, 502, 503] as const;
const DEFAULT_5XX_STATUS = 503;
/** Retry-After sent with an injected 429 when the rule names none, in seconds. */
const DEFAULT_RETRY_AFTER_S = 1;

export interface FaultRule {
  endpoint: Endpoint | "*";
  kind: FaultKind;
  rate: number;
  /** Fire for the next N matching calls (or share attempts), then fall back to `rate`. */
  next: number;
  retryAfter: number;
  status: number;
  ms: number;
  /** shareFailure / auditOmit only: restrict to these share ids (absent = every share). */
  shareIds: string[] | null;
}

export interface FaultConfig {
  seed: number;
  latencyMs: number;
  rules: FaultRule[];
}

export const NO_FAULTS: FaultConfig = { seed: 1, latencyMs: 0, rules: [] };

/** How a simulated handover task ends: SUCCESS, FAILED, or never (stays EXECUTING). */
export const TASK_FATES = ["succeed", "fail", "stuck"] as const;
export type TaskFate = (typeof TASK_FATES)[number];

/** A call-level fault decided for one request. */
export type CallFault =
  | { kind: "http429"; retryAfter: number }
  | { kind: "http5xx"; status: number }
  | { kind: "lostResponse"; status: number }
  | { kind: "none" };

/** mulberry32: tiny, fast, deterministic; good enough to pick which calls fail. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Validates a `PUT /__sim/faults` body; returns an error message or the config. */
export function parseFaultConfig(body: unknown): FaultConfig | string {
  if (typeof body !== "object" || body === null) return "body must be a JSON object";
  const b = body as Record<string, unknown>;
  const seed = b.seed ?? 1;
  const latencyMs = b.latencyMs ?? 0;
  if (typeof seed !== "number" || !Number.isInteger(seed)) return "seed must be an integer";
  if (typeof latencyMs !== "number" || latencyMs < 0) return "latencyMs must be a number >= 0";
  const rawRules = b.rules ?? [];
  if (!Array.isArray(rawRules)) return "rules must be an array";
  const rules: FaultRule[] = [];
  for (const [i, raw] of rawRules.entries()) {
    if (typeof raw !== "object" || raw === null) return `rules[${i}] must be an object`;
    const r = raw as Record<string, unknown>;
    const endpoint = r.endpoint ?? "*";
    if (endpoint !== "*" && !ENDPOINTS.includes(endpoint as Endpoint))
      return `rules[${i}].endpoint is unknown`;
    if (!FAULT_KINDS.includes(r.kind as FaultKind)) return `rules[${i}].kind must be one of ${FAULT_KINDS}`;
    const rate = r.rate ?? 0;
    if (typeof rate !== "number" || rate < 0 || rate > 1) return `rules[${i}].rate must be within 0..1`;
    const next = r.next ?? 0;
    if (typeof next !== "number" || !Number.isInteger(next) || next < 0)
      return `rules[${i}].next must be >= 0`;
    const status = r.status ?? DEFAULT_5XX_STATUS;
    if (!FAULT_5XX_STATUSES.includes(status as 500)) return `rules[${i}].status must be 500, 502 or 503`;
    const retryAfter = r.retryAfter ?? DEFAULT_RETRY_AFTER_S;
    if (typeof retryAfter !== "number" || retryAfter < 0) return `rules[${i}].retryAfter must be >= 0`;
    const ms = r.ms ?? 0;
    if (typeof ms !== "number" || ms < 0) return `rules[${i}].ms must be >= 0`;
    const shareIds = r.shareIds ?? null;
    if (shareIds !== null && !(Array.isArray(shareIds) && shareIds.every((s) => typeof s === "string"))) {
      return `rules[${i}].shareIds must be an array of strings`;
    }
    rules.push({
      endpoint: endpoint as Endpoint | "*",
      kind: r.kind as FaultKind,
      rate,
      next,
      retryAfter,
      status: status as number,
      ms,
      shareIds: shareIds as string[] | null,
    });
  }
  return { seed, latencyMs, rules };
}

/** Evaluates fault rules against the store-held config; persists `next` countdowns and PRNG state. */
export class FaultEngine {
  /** In-memory copy: this Durable Object is the only writer, so it stays coherent; reloaded after eviction. */
  private cached: FaultConfig | undefined;
  private cachedAtWipe = -1;

  constructor(private readonly store: Store) {}

  config(): FaultConfig {
    if (!this.cached || this.cachedAtWipe !== this.store.wipes) {
      this.cached = this.store.getMeta<FaultConfig>("faults") ?? structuredClone(NO_FAULTS);
      this.cachedAtWipe = this.store.wipes;
    }
    return this.cached;
  }

  replace(config: FaultConfig): void {
    this.store.setMeta("faults", config);
    this.store.setMeta("prng", config.seed);
    this.cached = config;
    this.cachedAtWipe = this.store.wipes;
  }

  clear(): void {
    this.store.deleteMeta("faults");
    this.store.deleteMeta("prng");
    this.cached = undefined;
  }

  /** Draws one number from the persisted PRNG stream. */
  private draw(): number {
    const state = this.store.getMeta<number>("prng") ?? this.config().seed;
    const value = mulberry32(state)();
    // Advance: the next state is derived from this draw, so the sequence is fixed by the seed alone.
    this.store.setMeta("prng", (state + 0x6d2b79f5) | 0);
    return value;
  }

  /** Whether a rule fires now: a pending `next` countdown first, else a PRNG draw against `rate`. */
  private fires(config: FaultConfig, rule: FaultRule): boolean {
    if (rule.next > 0) {
      rule.next -= 1;
      this.store.setMeta("faults", config);
      return true;
    }
    return rule.rate > 0 && this.draw() < rule.rate;
  }

  /** Total delay to add to a call: the fixed `latencyMs` plus every latency rule that fires. */
  latencyFor(endpoint: Endpoint): number {
    const config = this.config();
    let ms = config.latencyMs;
    for (const rule of config.rules) {
      if (rule.kind === "latency" && matches(rule, endpoint) && this.fires(config, rule)) ms += rule.ms;
    }
    return ms;
  }

  /** The first throttling / server-error rule that fires for this call, if any. */
  callFault(endpoint: Endpoint): CallFault {
    const config = this.config();
    for (const rule of config.rules) {
      if (!matches(rule, endpoint)) continue;
      if (rule.kind === "http429" && this.fires(config, rule))
        return { kind: "http429", retryAfter: rule.retryAfter };
      if (rule.kind === "http5xx" && this.fires(config, rule))
        return { kind: "http5xx", status: rule.status };
      if (rule.kind === "lostResponse" && this.fires(config, rule))
        return { kind: "lostResponse", status: rule.status };
    }
    return { kind: "none" };
  }

  /** Whether one share's cancel attempt fails (shareFailure rules on the cancel endpoint). */
  shareFails(shareId: string): boolean {
    return this.shareRuleFires("shareFailure", shareId);
  }

  /** Whether KooDrive's audit log leaves out one successful cancel (auditOmit rules on the cancel endpoint). */
  auditOmits(shareId: string): boolean {
    return this.shareRuleFires("auditOmit", shareId);
  }

  /** How a task being created will end: taskFailure / taskStuck rules on the taskCreate endpoint. */
  taskFate(): TaskFate {
    const config = this.config();
    for (const rule of config.rules) {
      if (!matches(rule, "taskCreate")) continue;
      if (rule.kind === "taskFailure" && this.fires(config, rule)) return "fail";
      if (rule.kind === "taskStuck" && this.fires(config, rule)) return "stuck";
    }
    return "succeed";
  }

  private shareRuleFires(kind: "shareFailure" | "auditOmit", shareId: string): boolean {
    const config = this.config();
    for (const rule of config.rules) {
      if (rule.kind !== kind || !matches(rule, "cancel")) continue;
      if (rule.shareIds && !rule.shareIds.includes(shareId)) continue;
      if (this.fires(config, rule)) return true;
    }
    return false;
  }
}

function matches(rule: FaultRule, endpoint: Endpoint): boolean {
  return rule.endpoint === "*" || rule.endpoint === endpoint;
}
