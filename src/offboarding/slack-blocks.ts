import { APPROVE_ACTION_ID, type ApprovalGate, REJECT_ACTION_ID } from "./approval";

/**
 * Block Kit for approvals (issue 11): the plan waiting, with Approve / Reject buttons. A click comes back to
 * `POST /chatops/slack/interactions` carrying the button's `value`: the run id, and for a name match
 * `<runId>|<candidate's KooDrive id>` (approving a name match names the person, as the API requires).
 */

/** Slack's limit for a section's text is 3,000 characters; ours stay far below. */
const MAX_TEXT = 2_900;

/**
 * Text from elsewhere (a name or e-mail from HR, a reason someone typed, an actor) shown in a Slack message:
 * `&`, `<` and `>` escaped, the three characters Slack's markup uses, so it cannot become a mention, a
 * `<!channel>` or a link [Slack: formatting text, escaping text].
 */
export function escapeSlack(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");
}

/** The value of a decision button: the run id, and the candidate of a name match. */
export const buttonValue = (runId: string, gate: Pick<ApprovalGate, "candidate">) =>
  gate.candidate ? `${runId}|${gate.candidate.koodriveUserId}` : runId;

/** Parses a button value back: null when it is not ours. */
export function parseButtonValue(value: string): { runId: string; koodriveUserId?: string } | null {
  const m = /^([a-z]+-[0-9a-f]{32})(?:\|(\d{19}))?$/.exec(value);
  if (!m?.[1]) return null;
  return m[2] ? { runId: m[1], koodriveUserId: m[2] } : { runId: m[1] };
}

/** The blocks of a run waiting for approval: what it would do, why it waits, and the two buttons. */
export function approvalBlocks(runId: string, gate: ApprovalGate, who: string): unknown[] {
  const value = buttonValue(runId, gate);
  const text =
    `*Approval needed* for \`${runId}\` (${escapeSlack(who)}): ${escapeSlack(gate.detail)}.\n` +
    `Plan: ${gate.planShares} share(s), digest \`${gate.planDigest.slice(0, 16)}\`. ` +
    `Decide before ${gate.deadline}; the person who asked cannot approve.`;
  return [
    { type: "section", text: { type: "mrkdwn", text: text.slice(0, MAX_TEXT) } },
    {
      type: "actions",
      block_id: "koodrive_decision",
      elements: [
        {
          type: "button",
          action_id: APPROVE_ACTION_ID,
          style: "primary",
          text: { type: "plain_text", text: "Approve" },
          value,
          confirm: {
            title: { type: "plain_text", text: "Approve this run?" },
            text: {
              type: "mrkdwn",
              text: `It cancels ${gate.planShares} share(s) now. This cannot be undone.`,
            },
            confirm: { type: "plain_text", text: "Approve" },
            deny: { type: "plain_text", text: "Back" },
          },
        },
        {
          type: "button",
          action_id: REJECT_ACTION_ID,
          style: "danger",
          text: { type: "plain_text", text: "Reject" },
          value,
        },
      ],
    },
  ];
}

/** The message a decision leaves in place of the buttons (`replace_original`). */
export function decidedText(
  runId: string,
  d: { verdict: string; by: string; at: string; planShares: number; reason?: string | undefined },
): string {
  const what =
    d.verdict === "approved"
      ? `Approved: the run cancels ${d.planShares} share(s)`
      : "Rejected: nothing will be done";
  return `${what}. \`${runId}\`, ${d.verdict} by ${d.by} at ${d.at}${d.reason ? `: ${d.reason}` : ""}.`.slice(
    0,
    MAX_TEXT,
  );
}
