/** @jsxImportSource hono/jsx */
import type { FC } from "hono/jsx";
import { type ActionView, type EvidenceView, FOUND_BY, taskStatusName } from "../../offboarding/action-view";
import type { ActionName } from "../../offboarding/actions";
import { Badge, Time } from "../layout";

/** What each action does, as the run page names it (README "What an offboarding does"). */
export const ACTION_LABEL: Record<ActionName, string> = {
  revoke_shares: "Revoke shares",
  handover: "Hand over files",
  block_login: "Block the login",
  watch: "Watch for late shares",
};

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;

/** The facts an action recorded beyond its detail: recipient, tasks, block time, watch schedule. */
const ActionFacts: FC<{ a: ActionView }> = ({ a }) => {
  const done = a.checksDone ?? 0;
  const items = [
    a.recipient ? (
      <li data-fact="recipient">
        To {a.recipient.name ?? "KooDrive user"} (<code>{a.recipient.koodriveUserId}</code>), found as{" "}
        {FOUND_BY[a.recipient.foundBy]}
      </li>
    ) : null,
    ...(a.tasks ?? []).map((t) => (
      <li data-fact="task" data-task-id={t.taskId}>
        Task <code>{t.taskId}</code>: {taskStatusName(t.status)}
        {t.resultCode ? (
          <>
            {" "}
            · result code <code>{t.resultCode}</code>
          </>
        ) : null}
        {t.foundInList ? " · found in KooDrive's task list after a lost answer" : ""} · created{" "}
        <Time iso={t.createdAt} />
        {t.settledAt ? (
          <>
            {" "}
            · settled <Time iso={t.settledAt} />
          </>
        ) : null}
      </li>
    )),
    a.blockedAt ? (
      <li data-fact="blocked">
        Login blocked <Time iso={a.blockedAt} />
      </li>
    ) : null,
    a.schedule ? (
      <li data-fact="schedule">
        Checks: {plural(done, "check")} of {a.schedule.length} done
        <ol>
          {a.schedule.map((at, i) => (
            <li>
              <Time iso={at} />
              {i < done ? " · done" : at === a.nextCheck ? " · next" : ""}
            </li>
          ))}
        </ol>
      </li>
    ) : null,
    a.lateShares !== undefined ? (
      <li data-fact="late">
        {plural(a.lateShares, "late share")} found and cancelled
        {a.lateShares > 0 ? " (marked late in the shares below)" : ""}
      </li>
    ) : null,
    a.endedBy ? (
      <li data-fact="ended-by">
        Ended by a newer run for the same person: <a href={`/console/runs/${a.endedBy}`}>{a.endedBy}</a>
      </li>
    ) : null,
  ].filter(Boolean);
  return items.length ? <ul>{items}</ul> : null;
};

/**
 * The run's actions (issue 10), in the order they run, each with its state, detail and what it recorded,
 * and KooDrive's audit-log evidence under them once it was read.
 */
export const ActionsSection: FC<{ actions: ActionView[]; evidence: EvidenceView | null }> = ({
  actions,
  evidence,
}) => (
  <section>
    <h2>Actions</h2>
    <div class="scroll">
      <table class="cards" data-testid="actions">
        <thead>
          <tr>
            <th scope="col">Action</th>
            <th scope="col">State</th>
            <th scope="col">Detail</th>
            <th scope="col">Updated</th>
          </tr>
        </thead>
        <tbody>
          {actions.map((a) => (
            <tr data-action={a.action}>
              <td data-label="Action">
                {ACTION_LABEL[a.action]} <code class="muted">{a.action}</code>
              </td>
              <td data-label="State">
                <Badge value={a.state} />
              </td>
              <td data-label="Detail">
                {a.detail}
                <ActionFacts a={a} />
              </td>
              <td data-label="Updated">
                <Time iso={a.updatedAt} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
    {evidence ? (
      <p data-testid="evidence">
        {evidence.summary} (log entries from <Time iso={evidence.from} /> to <Time iso={evidence.to} />, read{" "}
        <Time iso={evidence.checkedAt} />)
      </p>
    ) : null}
  </section>
);
