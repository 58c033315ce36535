import type { Context } from "hono";
import * as z from "zod";
import { recordChatRefusal } from "../../audit/security";
import type { AuthenticatedEnv } from "../../auth";
import type { Bindings } from "../../env";
import { ApiError } from "../../errors";
import { APPROVE_ACTION_ID, type ApprovalDecision, REJECT_ACTION_ID } from "../../offboarding/approval";
import { decideRun } from "../../offboarding/decide";
import { isSlackResponseUrl, postToChat } from "../../offboarding/notify";
import { decidedText, escapeSlack, parseButtonValue } from "../../offboarding/slack-blocks";
import { firstTrigger, parseForm, SOURCE } from "./common";

/**
 * `POST /chatops/slack/interactions`: Slack's Interactivity Request URL (issue 11). The signature is checked
 * on the raw bytes before this runs (the slash command's scheme); then the `payload` field is parsed. Only a
 * click on our Approve / Reject buttons decides anything, through `decideRun` (four eyes, once, audited),
 * and only an operator's (SLACK_OPERATORS). Slack wants a 200 within 3 seconds and ignores the body of a
 * block_actions answer: the outcome goes to the payload's `response_url` (the message is replaced by the
 * decision; a refusal is shown to the clicker alone).
 */

/** The parts of a block_actions payload we read [Slack: block_actions payload]; the rest is ignored. */
const Payload = z.looseObject({
  type: z.string().max(64),
  trigger_id: z.string().max(200).optional(),
  response_url: z.string().max(1000).optional(),
  team: z.looseObject({ id: z.string().max(40) }).nullish(),
  user: z.looseObject({
    id: z.string().max(40),
    username: z.string().max(80).optional(),
    name: z.string().max(80).optional(),
    team_id: z.string().max(40).optional(),
  }),
  actions: z
    .array(z.looseObject({ action_id: z.string().max(255), value: z.string().max(2000).optional() }))
    .max(10)
    .optional(),
});

const NOT_OPERATOR =
  "You are not a KooDrive Offboard operator: nothing was decided. Ask an admin to add your Slack user id to the operators.";

/** A Slack actor string's user id (`slack:<team>:<U… or W…> (<name>)`); other actors have none. */
const SLACK_ACTOR = /^slack:[^: ]*:([UW][A-Z0-9]{2,39})(?: \(|$)/;

/**
 * `<@U…>` for a Slack actor: Slack renders the user's current name [Slack: formatting text, mentioning
 * users]. Any other actor (an admin token, a console user) is shown as its actor string, escaped.
 */
function shownActor(actor: string): string {
  const user = SLACK_ACTOR.exec(actor)?.[1];
  return user ? `<@${user}>` : escapeSlack(actor);
}

/**
 * `<!date^epoch^{date_short_pretty} {time}|fallback>`: the moment in the reader's time zone, the ISO time
 * where the client cannot format it [Slack: formatting text, dates].
 */
function slackDate(iso: string): string {
  const epoch = Math.floor(Date.parse(iso) / 1000);
  return Number.isFinite(epoch) ? `<!date^${epoch}^{date_short_pretty} {time}|${iso}>` : iso;
}

function parsePayload(form: URLSearchParams): z.infer<typeof Payload> {
  const raw = form.get("payload");
  if (!raw) throw new ApiError("bad_request", "no payload field: not a Slack interaction");
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    throw new ApiError("bad_request", "the payload is not JSON");
  }
  const parsed = Payload.safeParse(value);
  if (!parsed.success)
    throw new ApiError("bad_request", "the payload is not a Slack interaction we understand");
  return parsed.data;
}

/** Posts the outcome to the click's response_url, after the 200 (best effort: the decision is recorded). */
function reply(
  c: Context<AuthenticatedEnv<Record<never, never>>>,
  url: string | undefined,
  text: string,
  replace: boolean,
) {
  if (!url || !isSlackResponseUrl(url)) return;
  const post = postToChat(url, text, { replaceOriginal: replace });
  try {
    c.executionCtx.waitUntil(post);
  } catch {
    // No execution context (a direct call in a test): the post still runs.
  }
}

export async function interactions(c: Context<AuthenticatedEnv<Record<never, never>>>) {
  const payload = parsePayload(parseForm(c.var.rawBody));
  const action = payload.actions?.[0];
  // Anything else Slack may send (a view, a shortcut, another app's block): acknowledged, nothing done.
  if (payload.type !== "block_actions" || !action) return c.body(null, 200);
  if (action.action_id !== APPROVE_ACTION_ID && action.action_id !== REJECT_ACTION_ID)
    return c.body(null, 200);
  const target = parseButtonValue(action.value ?? "");
  if (!target) throw new ApiError("bad_request", "the button carries no run id");

  const team = (payload.team?.id ?? payload.user.team_id ?? "").slice(0, 40);
  const user = payload.user.id;
  const name = (payload.user.username ?? payload.user.name ?? "").replace(/[^\w.@ -]/g, "").slice(0, 80);
  const actor = `slack:${team}:${user}${name ? ` (${name})` : ""}`;
  // Verified, so the timestamp header is well formed and fresh; a click is decided once per trigger.
  if (
    !(await firstTrigger(c.env, team, payload.trigger_id, c.req.header("x-slack-request-timestamp") ?? "0"))
  ) {
    console.log(JSON.stringify({ level: "info", msg: "slack click replayed", requestId: c.var.requestId }));
    return c.body(null, 200);
  }
  if (!c.var.config.SLACK_OPERATORS.ids.includes(user)) {
    await recordChatRefusal(c.env, c.var.audit, {
      source: SOURCE,
      user: `${team}:${user}`,
      actor,
      requestId: c.var.requestId,
      reason: `not an operator: ${action.action_id === APPROVE_ACTION_ID ? "approve" : "reject"} ${target.runId}`,
    });
    reply(c, payload.response_url, NOT_OPERATOR, false);
    return c.body(null, 200);
  }
  const verdict = action.action_id === APPROVE_ACTION_ID ? "approved" : "rejected";
  const decided = await decideRun(
    c.env,
    target.runId,
    verdict,
    { actor, via: "slack" },
    {
      ...(verdict === "rejected" ? { reason: `rejected in Slack by ${actor}` } : {}),
      ...(target.koodriveUserId ? { koodriveUserId: target.koodriveUserId } : {}),
      requestId: c.var.requestId,
    },
  );
  if (decided.ok) {
    reply(c, payload.response_url, decisionText(target.runId, decided.decision), true);
    return c.body(null, 200);
  }
  const settled = decided.code === "conflict" ? await settledText(c.env, target.runId) : null;
  if (settled) reply(c, payload.response_url, settled, true);
  else reply(c, payload.response_url, `Not decided: ${escapeSlack(decided.refused)}`, false);
  return c.body(null, 200);
}

/**
 * A decision as Slack shows it: the decider by name and the time in each reader's zone. The trail keeps the
 * actor string and the reason ("rejected in Slack by ..."), which would only repeat the decider here.
 */
function decisionText(runId: string, decision: ApprovalDecision): string {
  const { reason: _reason, ...shown } = decision;
  return decidedText(runId, { ...shown, by: shownActor(shown.by), at: slackDate(shown.at) });
}

/** How much of a run's detail a "nothing to decide" message shows. */
const MAX_DETAIL = 300;

/**
 * A click on buttons whose run no longer waits (decided from another copy of the message, the API or the
 * console; withdrawn; expired): the stale buttons are replaced, for everyone who sees that message, by where
 * the run stands. Null while the run still waits: the refusal (e.g. the approval window just closed) is then
 * the clicker's alone.
 */
async function settledText(env: Bindings, runId: string): Promise<string | null> {
  const meta = await env.RUNS.getByName(runId).getMeta();
  if (!meta) return null;
  if (meta.decision) return decisionText(runId, meta.decision);
  if (meta.status === "awaiting_approval" || meta.status === "needs_confirmation") return null;
  const detail = meta.detail ? `: ${escapeSlack(meta.detail.slice(0, MAX_DETAIL))}` : "";
  return `Nothing to decide: \`${runId}\` is ${meta.status}${detail}.`;
}
