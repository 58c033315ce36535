/** @jsxImportSource hono/jsx */
/**
 * The actions part of "Offboard someone" (issue 10): a checkbox per action the policy allows (all ticked at
 * first), the optional "Hand files over to", and what a dry run's request asked for on its plan page.
 */
import type { FC } from "hono/jsx";
import type { ActionName, HandoverRequest, PersonRef } from "../../offboarding/actions";

/** The actions as an operator reads them (the order is the order they run: ACTIONS). */
export const ACTION_LABELS: Record<ActionName, string> = {
  revoke_shares: "Cancel their shares (and verify)",
  handover: "Hand their files over",
  block_login: "Block their KooDrive login",
  watch: "Watch for shares made later (WATCH_AFTER) and cancel them",
};

/**
 * A hidden field of the form: the action checkboxes were on the page, so none ticked is a choice (refused,
 * 422) rather than a form from before the checkboxes (which gets the policy's actions).
 */
export const ACTIONS_SHOWN = "actions_shown";

/** What the operator chose, as typed (kept to show again with a refusal). */
export interface ActionValues {
  actions?: string[];
  handoverTo?: string;
}

/** The form's actions and recipient as `startOffboarding` takes them. */
export function actionInput(body: Record<string, unknown>): {
  values: ActionValues;
  input: { actions?: string[]; handoverTo?: string };
} {
  const ticked = body.action === undefined ? [] : ([] as unknown[]).concat(body.action);
  const actions = body[ACTIONS_SHOWN] === undefined ? undefined : ticked.filter((a) => typeof a === "string");
  const handoverTo = typeof body.handoverTo === "string" ? body.handoverTo.trim() : "";
  return {
    values: { ...(actions ? { actions } : {}), ...(handoverTo ? { handoverTo } : {}) },
    input: { ...(actions ? { actions } : {}), ...(handoverTo ? { handoverTo } : {}) },
  };
}

/** The checkboxes (all ticked until the operator changes them) and, when handover is allowed, the recipient. */
export const ActionChoices: FC<{ policy: readonly ActionName[]; values: ActionValues }> = ({
  policy,
  values,
}) => {
  const ticked = new Set<string>(values.actions ?? policy);
  return (
    <>
      <fieldset>
        <legend>What the run does (this deployment allows these; untick what it should not do)</legend>
        <input type="hidden" name={ACTIONS_SHOWN} value="1" />
        {policy.map((a) => (
          <label class="check">
            <input type="checkbox" name="action" value={a} checked={ticked.has(a)} /> {ACTION_LABELS[a]}
          </label>
        ))}
      </fieldset>
      {policy.includes("handover") ? (
        <>
          <label>
            Hand files over to (optional): e-mail, 19-digit KooDrive user id or HR id
            <input
              name="handoverTo"
              maxlength={320}
              autocomplete="off"
              value={values.handoverTo ?? ""}
              aria-describedby="handover-help"
            />
          </label>
          <span id="handover-help" class="muted">
            Empty: KooDrive's configured recipient for this person, else the deployment's default.
          </span>
        </>
      ) : null}
    </>
  );
};

/** A person a request named, as shown: name, then the identifiers it gave. */
export function personRefText(p: PersonRef): string {
  const ids = [p.email, p.hrId ? `HR ${p.hrId}` : undefined, p.koodriveUserId].filter(Boolean);
  return [p.name, ...ids].filter(Boolean).join(" · ");
}

const FROM: Record<HandoverRequest["from"], string> = {
  event: "named by the HR event",
  scim_manager: "the manager in the SCIM directory",
  request: "named by whoever started it",
};

/** The plan page's facts about the actions a dry run's request asked for (what the real run will do). */
export const ActionFacts: FC<{ actions: readonly ActionName[]; handoverTo: HandoverRequest | undefined }> = ({
  actions,
  handoverTo,
}) => (
  <>
    <dt>Actions</dt>
    <dd data-testid="plan-actions">{actions.map((a) => ACTION_LABELS[a]).join(" → ")}</dd>
    {actions.includes("handover") ? (
      <>
        <dt>Files to</dt>
        <dd data-testid="plan-handover">
          {handoverTo
            ? `${personRefText(handoverTo.person)} (${FROM[handoverTo.from]})`
            : "KooDrive's configured recipient, else the deployment's default"}
        </dd>
      </>
    ) : null}
  </>
);
