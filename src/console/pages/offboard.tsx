/** @jsxImportSource hono/jsx */
import { type Context, Hono } from "hono";
import type { FC } from "hono/jsx";
import * as z from "zod";
import { holdsStore } from "../../admin/holds";
import { MAX_REASON_LENGTH, startOffboarding } from "../../admin/offboardings";
import { requireRole } from "../../admin/principal";
import { loadRun, type RunView, runView } from "../../admin/run-view";
import type { AppEnv } from "../../env";
import { ApiError, type FieldError } from "../../errors";
import { type ActionName, actionsOf, type HandoverRequest } from "../../offboarding/actions";
import type { Hold } from "../../offboarding/holds";
import { ALL_SCOPES, TERMINAL } from "../../offboarding/types";
import { roleAllows } from "../../roles";
import { formFields, readForm } from "../http";
import { Badge, FieldErrorList, Layout, Notice, Time } from "../layout";
import { ActionChoices, ActionFacts, type ActionValues, actionInput } from "./offboard-actions";
import { ActionsSection } from "./run-actions";
import { personOf } from "./run-parts";

/** KooDrive's share scopes as people say them (koodrive-api.md "Share links": `scope`). */
export const SCOPE_LABELS: Record<string, string> = {
  "1": "anyone with the link",
  "2": "enterprise users",
  "3": "specified users",
};

/** Held shares the plan page lists by name (the counts cover them all; the run page lists every share). */
const HELD_SHOWN = 100;

const SECTION = "/console/offboard";

/** The person as typed: a KooDrive id, an e-mail or an HR id (startOffboarding validates it). */
interface StartValues extends ActionValues {
  person?: string;
  reason?: string;
  scopes?: string[];
}

/** The form's fields as startOffboarding takes them; scopes from the checkboxes (none ticked: every scope). */
async function startInput(c: Context<AppEnv>) {
  const body = await readForm(c, true);
  const text = (name: string) => (typeof body[name] === "string" ? (body[name] as string) : "");
  const raw = body.scope === undefined ? [] : ([] as unknown[]).concat(body.scope);
  const scopes = raw.filter((s): s is string => typeof s === "string");
  const chosen = actionInput(body);
  const values: StartValues = { person: text("person"), reason: text("reason"), scopes, ...chosen.values };
  const numeric = scopes.map(Number);
  return {
    values,
    input: {
      person: values.person,
      reason: values.reason,
      dryRun: true,
      ...(numeric.length ? { scopes: numeric } : {}),
      ...chosen.input,
    },
  };
}

/** The start form (operators), with the values and errors of a refused submission. */
const StartForm: FC<{ values: StartValues; policy: readonly ActionName[] }> = ({ values, policy }) => {
  const ticked = new Set(values.scopes?.length ? values.scopes : ALL_SCOPES.map(String));
  return (
    <form class="stack" method="post" action={SECTION}>
      <label>
        Person: e-mail, 19-digit KooDrive user id or HR id
        <input
          name="person"
          required
          maxlength={320}
          autocomplete="off"
          value={values.person ?? ""}
          aria-describedby="person-help"
        />
      </label>
      <span id="person-help" class="muted">
        The person is found the way an HR event finds them (identity map, then KooDrive).
      </span>
      <fieldset>
        <legend>Share scopes to cancel</legend>
        {ALL_SCOPES.map((s) => (
          <label class="check">
            <input type="checkbox" name="scope" value={String(s)} checked={ticked.has(String(s))} /> {s}:{" "}
            {SCOPE_LABELS[String(s)]}
          </label>
        ))}
      </fieldset>
      <ActionChoices policy={policy} values={values} />
      <label>
        Reason (recorded in the audit trail)
        <input name="reason" required maxlength={MAX_REASON_LENGTH} value={values.reason ?? ""} />
      </label>
      <button type="submit">Dry run: show the plan</button>
    </form>
  );
};

function renderStart(
  c: Context<AppEnv>,
  state: { values?: StartValues; errors?: FieldError[]; message?: string } = {},
  status: 200 | 422 = 200,
) {
  const canStart = roleAllows(c.var.principal.role, "operator");
  return c.html(
    <Layout
      title="Offboard someone"
      section={SECTION}
      principal={c.var.principal}
      requestId={c.var.requestId}
    >
      {state.message ? (
        <Notice tone="bad">
          <p>{state.message}</p>
          {state.errors?.length ? <FieldErrorList errors={state.errors} /> : null}
        </Notice>
      ) : null}
      {canStart ? (
        <>
          <p>
            First a dry run: it finds the person and lists every share that would be cancelled, cancelling
            nothing. You then confirm the exact number, and the real run starts.
          </p>
          <StartForm values={state.values ?? {}} policy={c.var.config.OFFBOARDING_ACTIONS} />
        </>
      ) : (
        <Notice tone="warn">
          Your role ({c.var.principal.role}) can look at runs but not start one: starting an offboarding needs
          the operator or admin role. Ask an admin to add you to CONSOLE_OPERATORS.
        </Notice>
      )}
    </Layout>,
    status,
  );
}

/** The holds that keep a share of this plan: on one of its held shares, or on the person. */
function holdsFor(holds: Hold[], run: RunView, heldIds: Set<string>): Hold[] {
  return holds.filter(
    (h) => (h.type === "share" && heldIds.has(h.id)) || (h.type === "user" && h.id === run.koodriveUserId),
  );
}

interface PlanState {
  error?: { message: string; errors?: FieldError[] };
}

/** The plan page: follows the dry run until it ends, then the plan and (operators) the typed confirmation. */
async function renderPlan(c: Context<AppEnv>, runId: string, state: PlanState = {}, status: 200 | 422 = 200) {
  const run = await runView(c.env, runId, { limit: 1 });
  if (!run.dryRun) return c.redirect(`/console/runs/${runId}`, 303);
  const { actions, handoverTo } = await requestedOf(c, runId);
  const planning = !TERMINAL.has(run.status) && run.status !== "needs_confirmation";
  const canStart = roleAllows(c.var.principal.role, "operator");
  const [held, { holds }] =
    run.status === "dry_run" && run.plan.held > 0
      ? await Promise.all([
          runView(c.env, runId, { limit: HELD_SHOWN, state: "skipped_hold" }),
          holdsStore(c.env).read(),
        ])
      : [undefined, { holds: [] as Hold[] }];
  const heldShares = held?.shares ?? [];
  const applying = holdsFor(holds, run, new Set(heldShares.map((s) => s.shareId)));
  const n = run.plan.shares;
  return c.html(
    <Layout
      title={planning ? "Planning…" : "The plan"}
      section={SECTION}
      principal={c.var.principal}
      requestId={c.var.requestId}
      script={planning}
    >
      <dl class="facts">
        <dt>Person</dt>
        <dd>{personOf(run.subject)}</dd>
        <dt>Dry run</dt>
        <dd>
          <a href={`/console/runs/${runId}`}>{runId}</a> <Badge value={run.status} />
        </dd>
        <dt>Scopes</dt>
        <dd>{run.scopes.map((s) => `${s} (${SCOPE_LABELS[String(s)]})`).join(", ")}</dd>
        <dt>Reason</dt>
        <dd>{run.reason ?? "-"}</dd>
        <ActionFacts actions={actions} handoverTo={handoverTo} />
        <dt>Planned</dt>
        <dd>
          <Time iso={run.finishedAt} />
        </dd>
      </dl>
      {planning ? (
        <section data-progress-url={`/console/runs/${runId}/progress.json`} data-reload aria-live="polite">
          <h2>Listing the person's shares</h2>
          <p data-progress-text>The dry run is {run.status}: this page shows the plan when it is done.</p>
          <p class="muted">Nothing is cancelled by a dry run.</p>
        </section>
      ) : run.status === "dry_run" ? (
        <section data-testid="plan">
          <h2>
            {n === 0 ? "Nothing to cancel" : `${n} share${n === 1 ? "" : "s"} would be cancelled`}
            {run.koodriveUserId ? (
              <>
                {" "}
                for KooDrive user <code>{run.koodriveUserId}</code>
              </>
            ) : null}
          </h2>
          <div class="scroll">
            <table data-testid="plan-by-scope">
              <caption class="muted">Shares by scope</caption>
              <thead>
                <tr>
                  <th scope="col">Scope</th>
                  <th scope="col">To cancel</th>
                  <th scope="col">Kept by a hold</th>
                </tr>
              </thead>
              <tbody>
                {ALL_SCOPES.map((s) => (
                  <tr data-scope={String(s)}>
                    <th scope="row">
                      {s}: {SCOPE_LABELS[String(s)]}
                    </th>
                    <td data-cell="cancel">{run.plan.byScope[String(s)] ?? 0}</td>
                    <td data-cell="held">{run.plan.heldByScope[String(s)] ?? 0}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {run.plan.outOfScope > 0 ? (
            <p class="muted">{run.plan.outOfScope} share(s) in scopes not chosen are left as they are.</p>
          ) : null}
          {/* A dry run asked for more than the cancels shows what each other action would do (issue 10). */}
          {run.actions.some((a) => a.action !== "revoke_shares") ? (
            <ActionsSection actions={run.actions} evidence={null} />
          ) : null}
          {run.plan.held > 0 ? (
            <>
              <h3>Held shares ({run.plan.held}): never cancelled</h3>
              <ul data-testid="held-shares">
                {heldShares.map((s) => (
                  <li>
                    <code>{s.shareId}</code> {s.displayName} (scope {s.scope})
                  </li>
                ))}
              </ul>
              {applying.length > 0 ? (
                <>
                  <h3>Holds that apply</h3>
                  <ul data-testid="holds-apply">
                    {applying.map((h) => (
                      <li>
                        {h.type} <code>{h.id}</code>: {h.reason} (added by {h.createdBy})
                      </li>
                    ))}
                  </ul>
                </>
              ) : null}
            </>
          ) : null}
          {runNeeded(n, actions) && canStart ? (
            <ConfirmForm runId={runId} count={n} email={run.subject.email} error={state.error} />
          ) : runNeeded(n, actions) ? (
            <Notice tone="warn">Only an operator or admin can start the real run.</Notice>
          ) : (
            <p>
              No share to cancel: no run is needed. <a href={SECTION}>Offboard someone else</a>
            </p>
          )}
        </section>
      ) : (
        <Notice tone={run.status === "needs_confirmation" ? "warn" : "bad"}>
          <p data-testid="plan-problem">
            {run.status === "unresolved"
              ? `This person could not be resolved to a KooDrive user: ${run.detail ?? "no identity found"}.`
              : run.status === "needs_confirmation"
                ? "The person was found by name only: confirm the name match on the run page first."
                : `The dry run ended ${run.status.replaceAll("_", " ")}: ${run.detail ?? "see the run page"}.`}
          </p>
          <p>
            <a href={`/console/runs/${runId}`}>Open the dry run</a> · <a href={SECTION}>Start again</a>
          </p>
        </Notice>
      )}
    </Layout>,
    status,
  );
}

/** What the dry run's request asked for: the real run that confirms it does exactly that. */
async function requestedOf(
  c: Context<AppEnv>,
  runId: string,
): Promise<{ actions: ActionName[]; handoverTo: HandoverRequest | undefined }> {
  const { request } = (await loadRun(c.env, runId)).meta;
  return { actions: [...actionsOf(request)], handoverTo: request.handoverTo };
}

/** Whether the plan needs a real run: shares to cancel, or an action other than the cancels (issue 10). */
const runNeeded = (shares: number, actions: readonly ActionName[]) =>
  shares > 0 || actions.some((a) => a !== "revoke_shares");

/**
 * The destructive confirmation: the operator types the number of shares (or the person's e-mail), so a
 * stray click or Enter cannot start the real run (issue 9: every destructive action confirmed).
 */
const ConfirmForm: FC<{
  runId: string;
  count: number;
  email: string | undefined;
  error: PlanState["error"];
}> = ({ runId, count, email, error }) => (
  <form class="stack" method="post" action={`${SECTION}/${runId}/confirm`}>
    <h3>{count > 0 ? "Cancel these shares" : "Start the real run"}</h3>
    {error ? (
      <Notice tone="bad">
        <p>{error.message}</p>
        {error.errors ? <FieldErrorList errors={error.errors} /> : null}
      </Notice>
    ) : null}
    <label>
      Type {count}
      {email ? ` or ${email}` : ""} to confirm
      <input name="typed" required autocomplete="off" aria-describedby="typed-help" />
    </label>
    <span id="typed-help" class="muted">
      The real run cancels the person's shares in these scopes as they are when it runs, except held ones.
    </span>
    <button type="submit" class="danger">
      {count > 0 ? `Cancel ${count} share${count === 1 ? "" : "s"}` : "Start the run"}
    </button>
  </form>
);

const ConfirmBody = z.object({ typed: z.string().trim().max(400).default("") });

/** Offboard someone: dry run -> plan -> typed confirmation -> the real run (source `console`). */
export function offboardPages() {
  const app = new Hono<AppEnv>();
  app.post("*", requireRole("operator"));

  app.get("/", (c) => renderStart(c));

  app.post("/", async (c) => {
    const { values, input } = await startInput(c);
    try {
      const started = await startOffboarding(c, input, "console");
      return c.redirect(`${SECTION}/${started.runId}`, 303);
    } catch (err) {
      if (err instanceof ApiError && (err.code === "invalid_body" || err.code === "bad_request"))
        return renderStart(
          c,
          { values, message: `Nothing was started: ${err.message}`, errors: err.details ?? [] },
          422,
        );
      throw err;
    }
  });

  app.get("/:runId", (c) => renderPlan(c, c.req.param("runId")));

  app.post("/:runId/confirm", async (c) => {
    const runId = c.req.param("runId");
    const run = await runView(c.env, runId, { limit: 1 });
    const { actions, handoverTo } = await requestedOf(c, runId);
    if (!run.dryRun || run.status !== "dry_run" || !runNeeded(run.plan.shares, actions))
      throw new ApiError("conflict", "this dry run has no plan to confirm (see the run page)");
    const form = ConfirmBody.safeParse(await formFields(c));
    const typed = form.success ? form.data.typed : "";
    const n = run.plan.shares;
    const email = run.subject.email;
    if (typed !== String(n) && !(email && typed.toLowerCase() === email.toLowerCase()))
      return renderPlan(
        c,
        runId,
        {
          error: {
            message: "Nothing was started: the confirmation does not match.",
            errors: [{ path: "typed", message: `type ${n}${email ? ` or ${email}` : ""} exactly` }],
          },
        },
        422,
      );
    if (!run.koodriveUserId)
      throw new ApiError("conflict", "this dry run resolved no one: nothing to confirm");
    // The plan's request (scopes, reason, actions, recipient) for exactly the KooDrive user the plan showed;
    // one dry run starts one real run, whoever confirms it and however often. Actions the policy no longer
    // allows are refused (422), not dropped: the run would not be the one the plan showed.
    try {
      const started = await startOffboarding(
        c,
        {
          person: run.koodriveUserId,
          dryRun: false,
          scopes: run.scopes,
          reason: (run.reason ?? `confirmed from dry run ${runId}`).slice(0, MAX_REASON_LENGTH),
          actions,
        },
        "console",
        undefined,
        {
          dryRunId: runId,
          subject: run.subject,
          koodriveUserId: run.koodriveUserId,
          ...(handoverTo ? { handoverTo } : {}),
        },
      );
      return c.redirect(`/console/runs/${started.runId}`, 303);
    } catch (err) {
      if (err instanceof ApiError && err.code === "invalid_body")
        return renderPlan(c, runId, { error: { message: err.message, errors: err.details ?? [] } }, 422);
      throw err;
    }
  });

  return app;
}
