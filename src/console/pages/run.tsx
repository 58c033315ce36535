/** @jsxImportSource hono/jsx */
import { Hono } from "hono";
import * as z from "zod";
import { requireRole } from "../../admin/principal";
import { confirmRun, retryRun } from "../../admin/run-actions";
import { loadRun, runView } from "../../admin/run-view";
import type { AppEnv } from "../../env";
import { ApiError } from "../../errors";
import { type Counts, SHARE_STATES, TERMINAL } from "../../offboarding/types";
import { roleAllows } from "../../roles";
import { formFields, parseFields, queryOf } from "../http";
import { Badge, FilterSelect, Layout, Notice, Pager, withQuery } from "../layout";
import { ActionsSection } from "./run-actions";
import { DecideForms, decideRoutes, WithdrawForm } from "./run-decide";
import { AuditTable, CountsTable, Facts, personOf, ShareTable, Timeline } from "./run-parts";
import { isLive } from "./runs";

/** Shares per page of the run page's table: a screenful that still renders fast on a phone. */
export const RUN_PAGE_SIZE = 100;
/**
 * Audit records of a run the page reads from each end (the start and the latest): a run writes a handful of
 * state records plus one per 100 shares, so 100 + 100 show every record of runs up to ~19,000 shares and
 * the story (received, started, confirmations, retries, finish) of any run, within the KV reads one
 * request may make. The rest are counted and are in `GET /audit` and the export.
 */
export const RUN_AUDIT_ENDS = 100;
/** Run statuses an operator can retry (RunLedger.beginRetry). */
const RETRYABLE = new Set(["partial", "failed", "unresolved"]);

const RunQuery = z.object({
  state: z
    .enum(SHARE_STATES)
    .optional()
    .or(z.literal("").transform(() => undefined)),
  cursor: z
    .string()
    .regex(/^\d{1,30}$/, "must be a share id")
    .optional(),
  notice: z.enum(["retried", "confirmed", "approved", "rejected", "withdrawn"]).optional(),
});

const NOTICES = {
  retried: "Retry started: the failed and still-active shares are being cancelled again.",
  confirmed: "Name match confirmed: the run goes on for that KooDrive user.",
  approved: "Approved: the run goes on with the plan it showed.",
  rejected: "Rejected: the run ends with nothing done.",
  withdrawn: "Withdrawn: the run ends with nothing done.",
} as const;

/** What the progress bar shows: shares handled out of those to cancel (skipped ones are not counted). */
export function progressOf(status: string, counts: Counts) {
  const planned = counts.total - counts.skipped_hold - counts.skipped_scope;
  const done = counts.cancelled + counts.already_gone + counts.failed + counts.still_active;
  return { status, planned, done, terminal: TERMINAL.has(status as never) };
}

/** The run page, its progress endpoint, and the retry and confirm-name-match forms (operators). */
export function runPages() {
  const app = new Hono<AppEnv>();
  app.use("/:runId/retry", requireRole("operator"));
  app.use("/:runId/confirm", requireRole("operator"));
  decideRoutes(app);

  app.get("/:runId", async (c) => {
    const runId = c.req.param("runId");
    const q = queryOf(c, RunQuery);
    const [run, { records, omitted }] = await Promise.all([
      runView(c.env, runId, { limit: RUN_PAGE_SIZE, cursor: q.cursor, state: q.state }),
      c.var.audit.forRunEnds(runId, RUN_AUDIT_ENDS, RUN_AUDIT_ENDS),
    ]);
    const principal = c.var.principal;
    const base = `/console/runs/${runId}`;
    const inFlight = isLive(run.status);
    const progress = progressOf(run.status, run.counts);
    const canOperate = roleAllows(principal.role, "operator");
    c.header("cache-control", "no-store");
    return c.html(
      <Layout
        title={`Run ${runId}`}
        section="/console/runs"
        principal={principal}
        requestId={c.var.requestId}
        script={inFlight}
      >
        {q.notice ? <Notice tone="ok">{NOTICES[q.notice]}</Notice> : null}
        <Facts run={run} />
        {inFlight ? (
          <section
            id="run-progress"
            data-progress-url={`${base}/progress.json`}
            data-reload
            aria-live="polite"
          >
            <h2>Progress</h2>
            <progress value={progress.done} max={Math.max(1, progress.planned)} aria-label="Shares handled" />
            <p data-progress-text>
              {progress.done} of {progress.planned} handled ({run.status})
            </p>
          </section>
        ) : null}
        <ActionsSection actions={run.actions} evidence={run.evidence} />
        <section>
          <h2>Exports and operations</h2>
          <p>
            <a href={`/runs/${runId}/export?format=csv`} download>
              Export CSV
            </a>{" "}
            ·{" "}
            <a href={`/runs/${runId}/export?format=ndjson`} download>
              Export NDJSON
            </a>{" "}
            ·{" "}
            <a href={`/runs/${runId}/export?format=csv&part=actions`} download>
              Actions CSV
            </a>{" "}
            · <a href={`${base}/evidence`}>Evidence (printable)</a>
          </p>
          {canOperate && RETRYABLE.has(run.status) ? (
            <p>
              <a href={`${base}/retry`}>Retry this run…</a>
            </p>
          ) : null}
          {canOperate &&
          (run.status === "needs_confirmation" || run.status === "awaiting_approval") &&
          run.candidate ? (
            <ConfirmForm runId={runId} candidate={run.candidate} />
          ) : null}
          {canOperate && run.status === "awaiting_approval" && run.approval && !run.candidate ? (
            <DecideForms runId={runId} gate={run.approval} />
          ) : null}
          {canOperate &&
          (run.status === "awaiting_approval" || (run.status === "running" && run.scheduled)) ? (
            <WithdrawForm runId={runId} />
          ) : null}
        </section>
        <h2>Shares</h2>
        <CountsTable counts={run.counts} />
        <form class="inline" method="get" action={base}>
          <FilterSelect
            label="State"
            name="state"
            options={SHARE_STATES}
            value={q.state}
            none="all"
            show={(s) => s.replaceAll("_", " ")}
          />
          <button type="submit">Filter</button>
        </form>
        <ShareTable shares={run.shares} />
        <Pager
          first={q.cursor ? withQuery(base, { state: q.state }) : undefined}
          next={run.nextCursor ? withQuery(base, { state: q.state, cursor: run.nextCursor }) : undefined}
        />
        <h2>Timeline</h2>
        <Timeline records={records} />
        <h2>Audit records</h2>
        {omitted > 0 ? (
          <p class="muted">
            The first and last {RUN_AUDIT_ENDS} records are shown; {omitted} records in between are in the
            audit trail (Audit, GET /audit).
          </p>
        ) : null}
        <AuditTable records={records} />
      </Layout>,
    );
  });

  app.get("/:runId/progress.json", async (c) => {
    const { ledger, meta } = await loadRun(c.env, c.req.param("runId"));
    c.header("cache-control", "no-store");
    return c.json(progressOf(meta.status, await ledger.counts()));
  });

  // Retrying cancels shares again: a destructive action, so it is confirmed on its own page first.
  app.get("/:runId/retry", async (c) => {
    const runId = c.req.param("runId");
    const { ledger, meta } = await loadRun(c.env, runId);
    const counts = await ledger.counts();
    return c.html(
      <Layout
        title="Retry this run?"
        section="/console/runs"
        principal={c.var.principal}
        requestId={c.var.requestId}
      >
        <p>
          Run <a href={`/console/runs/${runId}`}>{runId}</a> for {personOf(meta.request.subject)} is{" "}
          <Badge value={meta.status} />. A retry tries again to cancel{" "}
          <strong>{counts.failed + counts.still_active}</strong> failed or still-active share(s), and resolves
          the person again if the run was unresolved.
        </p>
        <form method="post" action={`/console/runs/${runId}/retry`}>
          <input type="hidden" name="confirmed" value="yes" />
          <button type="submit" class="danger">
            Retry and cancel again
          </button>{" "}
          <a href={`/console/runs/${runId}`}>Keep it as it is</a>
        </form>
      </Layout>,
    );
  });

  app.post("/:runId/retry", async (c) => {
    const runId = c.req.param("runId");
    await loadRun(c.env, runId); // a 404 page for an unknown or malformed id, before it is put in a URL
    const form = await formFields(c);
    if (form.confirmed !== "yes") return c.redirect(`/console/runs/${runId}/retry`, 303);
    await retryRun(c, runId);
    return c.redirect(`/console/runs/${runId}?notice=retried`, 303);
  });

  app.post("/:runId/confirm", async (c) => {
    const runId = c.req.param("runId");
    const { meta } = await loadRun(c.env, runId);
    const parsed = parseFields(ConfirmForm.schema, await formFields(c));
    const candidate = meta.candidate?.koodriveUserId;
    if (!parsed.ok || parsed.value.koodriveUserId !== candidate) {
      const errors = parsed.ok
        ? [{ path: "koodriveUserId", message: "does not match the candidate this run waits for" }]
        : parsed.errors;
      throw new ApiError("invalid_body", "type the candidate's KooDrive user id exactly to confirm", errors);
    }
    await confirmRun(c, runId, parsed.value.koodriveUserId);
    return c.redirect(`/console/runs/${runId}?notice=confirmed`, 303);
  });

  return app;
}

/** The typed confirmation of a name match: the operator types the 19-digit id they checked. */
const ConfirmForm = Object.assign(
  ({ runId, candidate }: { runId: string; candidate: { koodriveUserId: string; name: string } }) => (
    <form class="stack" method="post" action={`/console/runs/${runId}/confirm`}>
      <p>
        This run waits for someone to confirm a name match: <strong>{candidate.name}</strong>, KooDrive user{" "}
        <code>{candidate.koodriveUserId}</code>. Check it is the leaver, then type that id to confirm.
      </p>
      <label>
        KooDrive user id you checked
        <input
          name="koodriveUserId"
          required
          inputmode="numeric"
          pattern="\d{19}"
          autocomplete="off"
          aria-describedby="confirm-help"
        />
      </label>
      <span id="confirm-help" class="muted">
        19 digits; only this id can be confirmed, once.
      </span>
      <button type="submit" class="danger">
        Confirm and cancel this person's shares
      </button>
    </form>
  ),
  {
    schema: z.object({
      koodriveUserId: z
        .string()
        .trim()
        .regex(/^\d{19}$/, "must be 19 digits"),
    }),
  },
);
