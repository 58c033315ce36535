import { countsText } from "../offboarding/action-view";
import { APPROVE_ACTION_ID, REJECT_ACTION_ID } from "../offboarding/approval";
import type { RunEvent } from "./types";

/**
 * Channel notifications built from an event (issue 11 "Notifications"): who, source, counts, the reason,
 * a link to the run. Built at delivery time from the recorded event, so a re-send posts the same facts.
 */

/** Slack mrkdwn control characters (Slack API "Formatting text": escape &, <, >). */
const escapeSlack = (text: string) => text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** Slack section text is at most 3000 characters (Block Kit "Section block"). */
const SLACK_SECTION_MAX = 3000;

/** How the run names its person: name, e-mail and HR id, as far as known. */
export function whoOf(subject: RunEvent["data"]["subject"]): string {
  const head = subject.name ?? subject.email ?? subject.hrId;
  const extra = [subject.name ? subject.email : undefined, `HR id ${subject.hrId}`].filter(Boolean);
  return `${head} (${extra.join(", ")})`;
}

/** The facts every channel shows, as label and value. */
export function factsOf(event: RunEvent): { title: string; value: string }[] {
  const { data } = event;
  const facts = [
    { title: "Who", value: whoOf(data.subject) },
    { title: "Status", value: data.status },
    { title: "Source", value: data.source },
  ];
  if (data.counts) facts.push({ title: "Shares", value: countsText(data.counts) });
  if (data.detail) facts.push({ title: "Why", value: data.detail });
  return facts;
}

const headlineOf = (event: RunEvent) =>
  event.data.status === "awaiting_approval"
    ? `Offboarding run ${event.data.runId} is waiting for approval`
    : `Offboarding run ${event.data.runId}: ${event.data.status}`;

const linkOf = (event: RunEvent) => event.data.links.console ?? event.data.links.api;

/** A Slack incoming-webhook body (`text` for notifications and fallbacks, Block Kit `blocks`). */
export function slackBody(event: RunEvent): Record<string, unknown> {
  const facts = factsOf(event);
  const link = linkOf(event);
  const lines = facts.map((f) => `*${f.title}:* ${escapeSlack(f.value)}`);
  lines.push(link.startsWith("http") ? `<${link}|Open the run>` : `Run: \`${escapeSlack(link)}\``);
  const blocks: Record<string, unknown>[] = [
    { type: "section", text: { type: "mrkdwn", text: `*${escapeSlack(headlineOf(event))}*` } },
    { type: "section", text: { type: "mrkdwn", text: lines.join("\n").slice(0, SLACK_SECTION_MAX) } },
  ];
  if (event.data.status === "awaiting_approval")
    blocks.push({
      type: "actions",
      elements: [
        {
          type: "button",
          action_id: APPROVE_ACTION_ID,
          text: { type: "plain_text", text: "Approve" },
          style: "primary",
          value: event.data.runId,
        },
        {
          type: "button",
          action_id: REJECT_ACTION_ID,
          text: { type: "plain_text", text: "Reject" },
          style: "danger",
          value: event.data.runId,
        },
      ],
    });
  return { text: escapeSlack(`${headlineOf(event)}: ${whoOf(event.data.subject)}`), blocks };
}

/**
 * A Teams workflow-webhook body: one Adaptive Card 1.4 in a message (Microsoft "Post a message in a chat or
 * channel when a webhook request is received": `type: message` with `attachments`).
 */
export function teamsBody(event: RunEvent): Record<string, unknown> {
  const link = linkOf(event);
  const content: Record<string, unknown> = {
    $schema: "http://adaptivecards.io/schemas/adaptive-card.json",
    type: "AdaptiveCard",
    version: "1.4",
    body: [
      { type: "TextBlock", text: headlineOf(event), weight: "Bolder", size: "Medium", wrap: true },
      { type: "FactSet", facts: factsOf(event) },
    ],
  };
  if (link.startsWith("http"))
    content.actions = [{ type: "Action.OpenUrl", title: "Open the run", url: link }];
  else (content.body as unknown[]).push({ type: "TextBlock", text: `Run: ${link}`, wrap: true });
  return {
    type: "message",
    attachments: [{ contentType: "application/vnd.microsoft.card.adaptive", content }],
  };
}
