import { Hono } from "hono";
import * as z from "zod";
import { subjectKeyFor } from "../audit/keys";
import { decodeCursor, MAX_AUDIT_PAGE } from "../audit/store";
import type { AppEnv } from "../env";
import { ApiError } from "../errors";
import { limitBody, validate } from "../http";
import { instanceId, wakeInstance, watchRun } from "../offboarding/instances";
import { isRunId } from "../offboarding/start";
import { CONFIRM_EVENT, SHARE_STATES } from "../offboarding/types";
import { exportRun } from "./export";
import { holdsRoutes } from "./holds";
import { identityRoutes } from "./identities";
import { actorOf, requireRole, requireRoleFor } from "./principal";
import { tokenRoutes } from "./tokens/routes";

const ConfirmBody = z.object({
  koodriveUserId: z.string().regex(/^\d{19}$/, "must be the 19-digit KooDrive user id you confirm"),
});

const RunQuery = z.object({
  limit: z.coerce.number().int().min(1).max(5000).default(1000),
  cursor: z
    .string()
    .regex(/^\d{1,30}$/)
    .optional(),
  state: z.enum(SHARE_STATES).optional(),
});

const AuditQuery = z
  .object({
    user: z.string().trim().min(1).max(320).optional(),
    since: z.iso.datetime({ offset: true }).optional(),
    until: z.iso.datetime({ offset: true }).optional(),
    limit: z.coerce.number().int().min(1).max(MAX_AUDIT_PAGE).default(50),
    cursor: z.string().max(4000).optional(),
  })
  .refine((q) => !q.cursor || safeCursor(q.cursor), { path: ["cursor"], message: "invalid cursor" });

function safeCursor(cursor: string): boolean {
  try {
    decodeCursor(cursor);
    return true;
  } catch {
    return false;
  }
}

/** The ledger and meta of a run, or a 404 for an unknown or malformed run id. */
async function loadRun(env: AppEnv["Bindings"], runId: string) {
  if (!isRunId(runId)) throw new ApiError("not_found", `no run ${runId.slice(0, 80)}`);
  const ledger = env.RUNS.getByName(runId);
  const meta = await ledger.getMeta();
  if (!meta) throw new ApiError("not_found", `no run ${runId}`);
  return { ledger, meta };
}

/** The admin API: runs, exports, audit, retries, identities, holds. */
export function adminRoutes() {
  const app = new Hono<AppEnv>();
  // Roles (docs/security.md "Who can do what"): viewers read; operators also retry and confirm runs;
  // admins also change holds and the identity map, and manage API tokens.
  app.use("/runs", requireRole("viewer"));
  app.use("/runs/*", requireRole("viewer"));
  app.use("/runs/:runId/retry", requireRole("operator"));
  app.use("/runs/:runId/confirm", requireRole("operator"));
  app.use("/audit", requireRole("viewer"));
  for (const path of ["/identities", "/identities/*", "/holds", "/holds/*"])
    app.use(path, requireRoleFor("viewer", "admin"));
  for (const path of ["/tokens", "/tokens/*"]) app.use(path, requireRole("admin"));

  app.get("/runs/:runId", validate("query", RunQuery), async (c) => {
    const runId = c.req.param("runId");
    const { ledger, meta } = await loadRun(c.env, runId);
    const q = c.req.valid("query");
    const [counts, shares] = await Promise.all([
      ledger.counts(),
      ledger.shares(q.cursor ?? "", q.limit + 1, q.state ? [q.state] : undefined),
    ]);
    const page = shares.slice(0, q.limit);
    const { request } = meta;
    return c.json({
      runId,
      status: meta.status,
      attempt: meta.attempt,
      source: request.source,
      eventId: request.eventId,
      subject: request.subject,
      koodriveUserId: meta.koodriveUserId ?? null,
      resolvedBy: meta.resolvedBy ?? null,
      ...(meta.candidate ? { candidate: meta.candidate } : {}),
      ...(meta.confirmedBy ? { confirmedBy: meta.confirmedBy, confirmedAt: meta.confirmedAt } : {}),
      duplicates: meta.duplicates ?? 0,
      detail: meta.detail ?? null,
      reason: request.reason ?? null,
      dryRun: request.dryRun,
      scopes: request.scopes,
      createdAt: meta.createdAt,
      updatedAt: meta.updatedAt,
      finishedAt: meta.finishedAt ?? null,
      counts,
      shares: page,
      ...(shares.length > q.limit ? { nextCursor: page[page.length - 1]?.shareId } : {}),
    });
  });

  app.get(
    "/runs/:runId/export",
    validate("query", z.object({ format: z.enum(["csv", "ndjson"]).default("csv") })),
    async (c) => {
      const runId = c.req.param("runId");
      const { ledger, meta } = await loadRun(c.env, runId);
      const { format } = c.req.valid("query");
      await c.var.audit.write({
        type: "admin.export",
        ...actorOf(c),
        runId,
        requestId: c.var.requestId,
        subject: meta.request.subject,
        details: { format },
      });
      return exportRun(ledger, runId, format);
    },
  );

  app.post("/runs/:runId/retry", async (c) => {
    const runId = c.req.param("runId");
    const { ledger, meta } = await loadRun(c.env, runId);
    const started = await ledger.beginRetry();
    if ("refused" in started) throw new ApiError("conflict", started.refused);
    await watchRun(c.env.AUDIT, runId);
    await c.env.OFFBOARDING.create({
      id: instanceId(runId, started.attempt),
      params: { runId, attempt: started.attempt },
    });
    await c.var.audit.write({
      type: "admin.retry",
      ...actorOf(c),
      runId,
      requestId: c.var.requestId,
      subject: meta.request.subject,
      status: "accepted",
      reason: `retry of a ${meta.status} run`,
      details: { attempt: started.attempt, requeued: started.requeued },
    });
    return c.json({ runId, status: "accepted", attempt: started.attempt, requeued: started.requeued }, 202);
  });

  // An operator confirms the name match a run waits for (RESOLVE_BY_NAME=confirm), naming the KooDrive id
  // they checked: only that id, once. The ledger records it first; the event then wakes the run.
  app.post("/runs/:runId/confirm", limitBody(4 * 1024), validate("json", ConfirmBody), async (c) => {
    const runId = c.req.param("runId");
    const { ledger, meta } = await loadRun(c.env, runId);
    const who = actorOf(c);
    const { koodriveUserId } = c.req.valid("json");
    const confirmed = await ledger.confirm(koodriveUserId, who.actor);
    if ("refused" in confirmed) {
      await c.var.audit.write({
        type: "admin.confirm",
        ...who,
        runId,
        requestId: c.var.requestId,
        subject: meta.request.subject,
        status: "refused",
        reason: confirmed.refused,
        details: { koodriveUserId },
      });
      throw new ApiError("conflict", confirmed.refused);
    }
    await c.var.audit.write({
      type: "admin.confirm",
      ...who,
      runId,
      requestId: c.var.requestId,
      subject: { ...meta.request.subject, koodriveUserId },
      status: "confirmed",
      reason: `name match confirmed: KooDrive user ${koodriveUserId}`,
      details: { koodriveUserId },
    });
    const event = { type: CONFIRM_EVENT, payload: { koodriveUserId } };
    if (!(await wakeInstance(c.env.OFFBOARDING, instanceId(runId, confirmed.meta.attempt), event))) {
      // The confirmation is recorded; a run that cannot be woken is resumed by the sweeper and reads it.
      console.warn(JSON.stringify({ level: "warn", msg: "confirm event not delivered", runId }));
    }
    return c.json({ runId, status: "running", koodriveUserId, confirmedBy: who.actor }, 202);
  });

  app.get("/audit", validate("query", AuditQuery), async (c) => {
    const q = c.req.valid("query");
    const page = await c.var.audit
      .list({
        limit: q.limit,
        ...(q.user ? { subject: subjectKeyFor(q.user) } : {}),
        ...(q.since ? { since: q.since } : {}),
        ...(q.until ? { until: q.until } : {}),
        ...(q.cursor ? { cursor: q.cursor } : {}),
      })
      .catch((err: unknown) => {
        if (err instanceof RangeError) throw new ApiError("bad_request", "invalid cursor");
        throw err;
      });
    return c.json({ records: page.records, ...(page.cursor ? { nextCursor: page.cursor } : {}) });
  });

  app.use("/identities", limitBody(5 * 1024 * 1024));
  app.route("/identities", identityRoutes());
  app.use("/holds", limitBody(1024 * 1024));
  app.route("/holds", holdsRoutes());
  app.use("/tokens", limitBody(4 * 1024));
  app.route("/tokens", tokenRoutes());
  return app;
}
