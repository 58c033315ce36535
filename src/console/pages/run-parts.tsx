/** @jsxImportSource hono/jsx */
import type { FC } from "hono/jsx";
import type { RunView } from "../../admin/run-view";
import type { AuditRecord } from "../../audit/schema";
import { type Counts, SHARE_STATES } from "../../offboarding/types";
import { Badge, Time } from "../layout";

/** The person a run is about, in one line. */
export function personOf(subject: RunView["subject"]): string {
  // Sources without an HR id use the e-mail as one (the identity map's fallback key): shown once.
  const hrId = subject.hrId && subject.hrId !== subject.email ? `HR ${subject.hrId}` : undefined;
  return [subject.name, subject.email, hrId].filter(Boolean).join(" · ");
}

export const Facts: FC<{ run: RunView }> = ({ run }) => (
  <dl class="facts">
    <dt>Person</dt>
    <dd>{personOf(run.subject)}</dd>
    <dt>Status</dt>
    <dd>
      <Badge value={run.status} /> {run.detail ?? ""}
    </dd>
    <dt>Source</dt>
    <dd>
      {run.source} · event <code>{run.eventId}</code>
      {run.duplicates > 0 ? ` · ${run.duplicates} duplicate deliveries` : ""}
    </dd>
    <dt>Resolution</dt>
    <dd>
      {run.koodriveUserId ? (
        <>
          KooDrive user <code>{run.koodriveUserId}</code> ({run.resolvedBy?.replaceAll("_", " ") ?? "-"})
        </>
      ) : run.candidate ? (
        <>
          name match {run.candidate.name}, KooDrive user <code>{run.candidate.koodriveUserId}</code>: waiting
          for an operator to confirm
        </>
      ) : (
        "not resolved yet"
      )}
      {run.confirmedBy ? ` · name match confirmed by ${run.confirmedBy}` : ""}
    </dd>
    <dt>Reason</dt>
    <dd>{run.reason ?? "-"}</dd>
    <dt>Mode</dt>
    <dd>
      {run.dryRun ? "dry run (nothing cancelled)" : "real run"} · scopes {run.scopes.join(", ")} · attempt{" "}
      {run.attempt}
    </dd>
    <dt>Received</dt>
    <dd>
      <Time iso={run.createdAt} />
    </dd>
    <dt>Finished</dt>
    <dd>
      <Time iso={run.finishedAt} />
    </dd>
  </dl>
);

export const CountsTable: FC<{ counts: Counts }> = ({ counts }) => (
  <div class="scroll">
    <table>
      <caption class="muted">Shares by state</caption>
      <thead>
        <tr>
          {SHARE_STATES.map((s) => (
            <th scope="col">{s.replaceAll("_", " ")}</th>
          ))}
          <th scope="col">total</th>
        </tr>
      </thead>
      <tbody>
        <tr>
          {SHARE_STATES.map((s) => (
            <td>{counts[s]}</td>
          ))}
          <td>{counts.total}</td>
        </tr>
      </tbody>
    </table>
  </div>
);

/** The run's step timeline: what the run and the people acting on it recorded, oldest first. */
export const Timeline: FC<{ records: AuditRecord[] }> = ({ records }) => {
  const steps = records.filter((r) => !r.type.startsWith("shares."));
  return (
    <ol data-testid="timeline">
      {steps.map((r) => (
        <li>
          <Time iso={r.at} /> · <strong>{r.type}</strong> {r.status ? <Badge value={r.status} /> : null}{" "}
          {r.reason ?? ""} <span class="muted">({r.actor})</span>
        </li>
      ))}
    </ol>
  );
};

export const AuditTable: FC<{ records: AuditRecord[] }> = ({ records }) => (
  <div class="scroll">
    <table class="cards">
      <thead>
        <tr>
          <th scope="col">When</th>
          <th scope="col">Type</th>
          <th scope="col">Actor</th>
          <th scope="col">Status</th>
          <th scope="col">Reason</th>
          <th scope="col">Shares</th>
        </tr>
      </thead>
      <tbody>
        {records.map((r) => (
          <tr>
            <td data-label="When">
              <Time iso={r.at} />
            </td>
            <td data-label="Type">{r.type}</td>
            <td data-label="Actor">
              {r.actor}
              {r.verifiedBy ? <span class="muted"> ({r.verifiedBy})</span> : null}
            </td>
            <td data-label="Status">{r.status ?? ""}</td>
            <td data-label="Reason">{r.reason ?? ""}</td>
            <td data-label="Shares">{r.shares?.length ?? ""}</td>
          </tr>
        ))}
      </tbody>
    </table>
  </div>
);

export const ShareTable: FC<{ shares: RunView["shares"] }> = ({ shares }) =>
  shares.length === 0 ? (
    <p class="muted">No shares here.</p>
  ) : (
    <div class="scroll">
      <table class="cards" data-testid="shares">
        <thead>
          <tr>
            <th scope="col">Share</th>
            <th scope="col">Name</th>
            <th scope="col">Scope</th>
            <th scope="col">State</th>
            <th scope="col">KooDrive's answer</th>
            <th scope="col">Attempts</th>
            <th scope="col">Updated</th>
          </tr>
        </thead>
        <tbody>
          {shares.map((s) => (
            <tr data-share-id={s.shareId} data-late={s.late ? "true" : undefined}>
              <td data-label="Share">
                <code>{s.shareId}</code>
              </td>
              <td data-label="Name">{s.displayName}</td>
              <td data-label="Scope">{s.scope}</td>
              <td data-label="State">
                <Badge value={s.state} />
                {/* Found by the watch after the run's main actions (issue 10). */}
                {s.late ? (
                  <>
                    {" "}
                    <Badge value="late" />
                  </>
                ) : null}
              </td>
              <td data-label="KooDrive's answer">
                {s.code || s.msg ? `${s.code} ${s.msg}`.trim() : ""}
                {s.reason && s.reason !== s.msg ? <span class="muted"> ({s.reason})</span> : null}
              </td>
              <td data-label="Attempts">{s.attempts}</td>
              <td data-label="Updated">
                <Time iso={s.updatedAt} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
