import type { Hono } from "hono";
import * as z from "zod";
import type { AppEnv } from "../env";
import { ApiError } from "../errors";
import { limitBody, validate } from "../http";
import type { Decider } from "../offboarding/approval";
import { cancelRun, decideRun, type RefusalCode, rescheduleRun } from "../offboarding/decide";
import { MAX_EFFECTIVE_AHEAD_DAYS } from "../offboarding/types";
import { actorOf, requireRole } from "./principal";

/**
 * Decisions on waiting runs (issue 11): approve, reject, cancel, reschedule. Operators only; four eyes and
 * "once" are the ledger's rules (src/offboarding/gate.ts), applied in one Durable Object call per run.
 */

const MAX_REASON_LENGTH = 1000;
const MAX_AHEAD_MS = MAX_EFFECTIVE_AHEAD_DAYS * 86_400_000;

const reason = z.string().trim().min(1, "a reason is required").max(MAX_REASON_LENGTH);

export const ApproveBody = z.strictObject({
  reason: reason.optional(),
  koodriveUserId: z
    .string()
    .regex(/^\d{19}$/, "must be the 19-digit KooDrive user id of the name match you confirm")
    .optional(),
});
export const RejectBody = z.strictObject({ reason });
export const CancelBody = z.strictObject({ reason });
export const RescheduleBody = z.strictObject({
  effectiveAt: z.iso
    .datetime({ offset: true, error: "must be an ISO 8601 date-time" })
    .refine((v) => Date.parse(v) > Date.now(), "must be in the future (cancel the run to stop it)")
    .refine(
      (v) => Date.parse(v) <= Date.now() + MAX_AHEAD_MS,
      `must be at most ${MAX_EFFECTIVE_AHEAD_DAYS} days ahead (a run cannot wait longer)`,
    ),
});

const STATUS: Record<RefusalCode, "not_found" | "conflict" | "forbidden"> = {
  not_found: "not_found",
  conflict: "conflict",
  forbidden: "forbidden",
};

function refuse(r: { code: RefusalCode; refused: string }): never {
  throw new ApiError(STATUS[r.code], r.refused);
}

export function deciderOf(c: Parameters<typeof actorOf>[0]): Decider {
  const who = actorOf(c);
  return { actor: who.actor, via: who.verifiedBy ?? "admin" };
}

export function approvalRoutes(app: Hono<AppEnv>): void {
  for (const action of ["approve", "reject", "cancel", "reschedule"])
    app.use(`/runs/:runId/${action}`, requireRole("operator"));

  app.post("/runs/:runId/approve", limitBody(4 * 1024), validate("json", ApproveBody), async (c) => {
    const body = c.req.valid("json");
    const r = await decideRun(c.env, c.req.param("runId"), "approved", deciderOf(c), {
      ...body,
      requestId: c.var.requestId,
    });
    if (!r.ok) refuse(r);
    return c.json({ runId: c.req.param("runId"), status: r.meta.status, decision: r.decision }, 202);
  });

  app.post("/runs/:runId/reject", limitBody(4 * 1024), validate("json", RejectBody), async (c) => {
    const r = await decideRun(c.env, c.req.param("runId"), "rejected", deciderOf(c), {
      reason: c.req.valid("json").reason,
      requestId: c.var.requestId,
    });
    if (!r.ok) refuse(r);
    return c.json({ runId: c.req.param("runId"), status: "rejected", decision: r.decision }, 202);
  });

  app.post("/runs/:runId/cancel", limitBody(4 * 1024), validate("json", CancelBody), async (c) => {
    const r = await cancelRun(
      c.env,
      c.req.param("runId"),
      c.req.valid("json").reason,
      deciderOf(c).actor,
      c.var.requestId,
    );
    if (!r.ok) refuse(r);
    return c.json(
      { runId: c.req.param("runId"), status: r.meta.status, withdrawnBy: r.meta.withdrawnBy },
      200,
    );
  });

  app.post("/runs/:runId/reschedule", limitBody(4 * 1024), validate("json", RescheduleBody), async (c) => {
    const effectiveAt = new Date(c.req.valid("json").effectiveAt).toISOString();
    const r = await rescheduleRun(
      c.env,
      c.req.param("runId"),
      effectiveAt,
      deciderOf(c).actor,
      c.var.requestId,
    );
    if (!r.ok) refuse(r);
    return c.json({ runId: c.req.param("runId"), status: r.meta.status, effectiveAt }, 200);
  });
}
