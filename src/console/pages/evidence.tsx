/** @jsxImportSource hono/jsx */
import { Hono } from "hono";
import { loadRun } from "../../admin/run-view";
import type { AppEnv } from "../../env";
import { actionViews, evidenceView } from "../../offboarding/action-view";
import type { ShareRow } from "../../offboarding/types";
import { Badge, duration, Layout, Time } from "../layout";
import { RUN_AUDIT_ENDS } from "./run";
import { ActionsSection } from "./run-actions";
import { personOf } from "./run-parts";

/**
 * Shares listed on one evidence page. Above this the page says so and points to the CSV export, which
 * streams every share: a printed list of more than 5,000 rows helps no auditor, and the page must render
 * within one request's CPU time.
 */
export const EVIDENCE_MAX_SHARES = 5000;
/** Ledger rows read per call while collecting the evidence list (the export's page size). */
const LEDGER_PAGE = 1000;

/**
 * How each source's requests are verified before a run starts (src/sources/<name>/verify.ts), as an auditor
 * reads it.
 */
export const VERIFIED_HOW: Record<string, string> = {
  hr: "Standard Webhooks signature (HMAC-SHA256 over id, timestamp and body) with the HR secret",
  okta: "Okta Event Hook shared secret in the Authorization header",
  scim: "SCIM bearer token of the identity provider",
  slack: "Slack request signature (v0 HMAC-SHA256, signing secret) and an allowed operator",
  teams: "Teams outgoing webhook HMAC and an allowed operator",
  admin: "a verified admin identity",
  console: "a verified console identity (see who acted)",
  api: "a scoped API token (see who acted)",
};

/** The printable evidence of one run: what an auditor asks for when checking a termination list. */
export function evidencePage() {
  const app = new Hono<AppEnv>();
  app.get("/:runId/evidence", async (c) => {
    const runId = c.req.param("runId");
    const { ledger, meta } = await loadRun(c.env, runId);
    const [counts, { records }] = await Promise.all([
      ledger.counts(),
      c.var.audit.forRunEnds(runId, RUN_AUDIT_ENDS, RUN_AUDIT_ENDS),
    ]);
    const shares: ShareRow[] = [];
    let after = "";
    while (shares.length < EVIDENCE_MAX_SHARES) {
      const page = await ledger.shares(after, Math.min(LEDGER_PAGE, EVIDENCE_MAX_SHARES - shares.length));
      shares.push(...page);
      if (page.length < LEDGER_PAGE) break;
      after = page[page.length - 1]?.shareId ?? after;
    }
    const { request } = meta;
    const received = records.find((r) => r.type === "request.received");
    const people = records.filter((r) => r.type.startsWith("admin.") && r.verifiedBy);
    const final = [...records].reverse().find((r) => r.type === "run.state");
    const clean = meta.status === "completed" && meta.finishedAt;
    return c.html(
      <Layout
        title={`Evidence: run ${runId}`}
        section="/console/runs"
        principal={c.var.principal}
        requestId={c.var.requestId}
      >
        <p class="noprint">
          <a href={`/console/runs/${runId}`}>Back to the run</a> · use your browser's Print to keep a copy.
        </p>
        <p>
          Generated <Time iso={new Date().toISOString()} /> for {c.var.principal.actor} from the run's ledger
          and audit trail.
        </p>
        <h2>Person</h2>
        <p>
          {personOf(request.subject)}
          {meta.koodriveUserId ? (
            <>
              {" "}
              · KooDrive user <code>{meta.koodriveUserId}</code> ({meta.resolvedBy?.replaceAll("_", " ")})
            </>
          ) : null}
        </p>
        <h2>The event as received</h2>
        <dl class="facts" data-testid="event">
          <dt>Source</dt>
          <dd>{request.source}</dd>
          <dt>Event id</dt>
          <dd>
            <code>{request.eventId}</code>
          </dd>
          <dt>Received</dt>
          <dd>
            <Time iso={request.receivedAt} />
          </dd>
          <dt>Verified how</dt>
          <dd>
            {received?.details?.verified === true ? "verified: " : "accepted: "}
            {VERIFIED_HOW[request.source] ?? request.source}
          </dd>
          <dt>Request id</dt>
          <dd>
            <code>{request.requestId}</code>
          </dd>
          <dt>Reason given</dt>
          <dd>{request.reason ?? "-"}</dd>
        </dl>
        <h2>Who acted</h2>
        <ul data-testid="actors">
          <li>
            Requested by <strong>{request.actor}</strong>
          </li>
          {people.map((r) => (
            <li>
              <Time iso={r.at} /> · {r.type.replace("admin.", "")} by <strong>{r.actor}</strong> (verified by{" "}
              {r.verifiedBy})
            </li>
          ))}
        </ul>
        <h2>Result</h2>
        <dl class="facts" data-testid="result">
          <dt>Status</dt>
          <dd>
            <Badge value={meta.status} /> {meta.detail ?? ""}
          </dd>
          <dt>Event to verified clean</dt>
          <dd>
            {clean
              ? `${duration(request.receivedAt, meta.finishedAt ?? request.receivedAt)} (received ${request.receivedAt}, verified clean ${meta.finishedAt})`
              : `not verified clean (the run is ${meta.status})`}
          </dd>
          <dt>Verify listing</dt>
          <dd>
            {counts.still_active === 0
              ? "the last listing of the person's shares found none of the cancelled shares still active"
              : `${counts.still_active} share(s) still listed as active after cancelling`}
            {final ? ` · final record ${final.at}: ${final.reason ?? ""}` : ""}
          </dd>
          <dt>Shares</dt>
          <dd>
            {counts.total} in total: {counts.cancelled} cancelled, {counts.already_gone} already gone,{" "}
            {counts.failed} failed, {counts.still_active} still active, {counts.skipped_hold} kept by a hold,{" "}
            {counts.skipped_scope} out of scope, {counts.planned + counts.in_flight} not finished
          </dd>
        </dl>
        <ActionsSection actions={actionViews(meta, counts)} evidence={evidenceView(meta.evidence)} />
        <h2>Every share and its outcome</h2>
        {counts.total > shares.length ? (
          <p>
            The first {shares.length} of {counts.total} shares are listed; the{" "}
            <a href={`/runs/${runId}/export?format=csv`}>CSV export</a> lists all of them.
          </p>
        ) : null}
        <div class="scroll">
          <table data-testid="evidence-shares">
            <thead>
              <tr>
                <th scope="col">Share</th>
                <th scope="col">Name</th>
                <th scope="col">Outcome</th>
                <th scope="col">KooDrive's answer</th>
                <th scope="col">When</th>
              </tr>
            </thead>
            <tbody>
              {shares.map((s) => (
                <tr>
                  <td>
                    <code>{s.shareId}</code>
                  </td>
                  <td>{s.displayName}</td>
                  <td>
                    {s.state.replaceAll("_", " ")}
                    {s.late ? " (late: found by the watch)" : ""}
                  </td>
                  <td>{`${s.code} ${s.msg}`.trim()}</td>
                  <td>
                    <Time iso={s.updatedAt} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </Layout>,
    );
  });
  return app;
}
