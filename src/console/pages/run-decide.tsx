import type { Hono } from "hono";
import * as z from "zod";
import { deciderOf } from "../../admin/approvals";
import { requireRole } from "../../admin/principal";
import { loadRun } from "../../admin/run-view";
import type { AppEnv } from "../../env";
import { ApiError } from "../../errors";
import type { ApprovalGate } from "../../offboarding/approval";
import { cancelRun, decideRun, type RefusalCode } from "../../offboarding/decide";
import { formFields, parseFields } from "../http";

/**
 * The console's side of approvals (issue 11): approve or reject a run in `awaiting_approval`, withdraw a
 * waiting one. The same functions as the admin API (`decideRun`, `cancelRun`): four eyes, once, audited.
 */

const Reason = z.object({ reason: z.string().trim().min(1, "a reason is required").max(1000) });

const refuse = (r: { code: RefusalCode; refused: string }): never => {
  throw new ApiError(r.code, r.refused);
};

export function decideRoutes(app: Hono<AppEnv>): void {
  for (const action of ["approve", "reject", "withdraw"])
    app.use(`/:runId/${action}`, requireRole("operator"));

  app.post("/:runId/approve", async (c) => {
    const runId = c.req.param("runId");
    await loadRun(c.env, runId);
    const form = await formFields(c);
    if (form.confirmed !== "yes")
      throw new ApiError("invalid_body", "tick the box to confirm you checked the plan", [
        { path: "confirmed", message: "required" },
      ]);
    const r = await decideRun(c.env, runId, "approved", deciderOf(c), { requestId: c.var.requestId });
    if (!r.ok) refuse(r);
    return c.redirect(`/console/runs/${runId}?notice=approved`, 303);
  });

  app.post("/:runId/reject", async (c) => {
    const runId = c.req.param("runId");
    await loadRun(c.env, runId);
    const parsed = parseFields(Reason, await formFields(c));
    if (!parsed.ok) throw new ApiError("invalid_body", "a reason is required to reject", parsed.errors);
    const r = await decideRun(c.env, runId, "rejected", deciderOf(c), {
      reason: parsed.value.reason,
      requestId: c.var.requestId,
    });
    if (!r.ok) refuse(r);
    return c.redirect(`/console/runs/${runId}?notice=rejected`, 303);
  });

  app.post("/:runId/withdraw", async (c) => {
    const runId = c.req.param("runId");
    await loadRun(c.env, runId);
    const parsed = parseFields(Reason, await formFields(c));
    if (!parsed.ok) throw new ApiError("invalid_body", "a reason is required to withdraw", parsed.errors);
    const r = await cancelRun(c.env, runId, parsed.value.reason, deciderOf(c).actor, c.var.requestId);
    if (!r.ok) refuse(r);
    return c.redirect(`/console/runs/${runId}?notice=withdrawn`, 303);
  });
}

/** Approve / reject a run waiting for approval (a name match has its own typed confirmation form). */
export const DecideForms = ({ runId, gate }: { runId: string; gate: ApprovalGate }) => (
  <div class="stack" data-testid="approval">
    <p>
      This run waits for approval: {gate.detail}. Requested by <code>{gate.requester}</code>; decide before{" "}
      <time datetime={gate.deadline}>{gate.deadline}</time>. Plan digest{" "}
      <code>{gate.planDigest.slice(0, 16)}</code>…
    </p>
    <form class="stack" method="post" action={`/console/runs/${runId}/approve`}>
      <label>
        <input type="checkbox" name="confirmed" value="yes" required /> I checked the plan ({gate.planShares}{" "}
        share(s)); the person who asked for the run cannot approve it
      </label>
      <button type="submit" class="danger">
        Approve and run
      </button>
    </form>
    <form class="stack" method="post" action={`/console/runs/${runId}/reject`}>
      <label>
        Reason to reject
        <input name="reason" required maxlength={1000} autocomplete="off" />
      </label>
      <button type="submit">Reject</button>
    </form>
  </div>
);

/** Withdraw a run waiting for its effectiveAt or for approval. */
export const WithdrawForm = ({ runId }: { runId: string }) => (
  <form class="stack" method="post" action={`/console/runs/${runId}/withdraw`}>
    <label>
      Reason to withdraw (nothing will be done for this run)
      <input name="reason" required maxlength={1000} autocomplete="off" />
    </label>
    <button type="submit">Withdraw this run</button>
  </form>
);
