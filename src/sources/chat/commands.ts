import { looksLikeEmail } from "../../audit/schema";
import { recordChatRefusal } from "../../audit/security";
import type { AuditStore } from "../../audit/store";
import { sha256Hex } from "../../bytes";
import type { Bindings } from "../../env";
import { isRunId, newRunRequest, startRun } from "../../offboarding/start";
import { describeRun, personOf } from "../../offboarding/summary";
import type { SourceName } from "../../offboarding/types";

/** Who typed the command and where, as a chat source verified it. */
export interface ChatContext {
  env: Bindings;
  audit: AuditStore;
  requestId: string;
  source: Extract<SourceName, "slack" | "teams">;
  /** `slack:<team>:<user> (<name>)`: recorded as the actor of what the command does. */
  actor: string;
  /** The chat platform's id of that user (Slack `<team>:<user>`, Teams object id): refusals are limited per user. */
  user: string;
  /** Whether this chat user may use the commands that read or change runs. */
  operator: boolean;
  /** The command's key (`commandKey`): the same command repeated soon after starts no second run. */
  invocationId: string;
  /** Where the run's result is posted when it finishes (Slack's response_url), if anywhere. */
  notifyUrl?: string;
}

/**
 * How a person addresses the service in each chat: Slack's slash command, and the outgoing webhook's
 * @mention in Teams (README: Teams).
 */
export const INVOCATION = { slack: "/koodrive", teams: "@KooDrive" } as const;

/** The help text, in the syntax of the chat it is shown in (Teams markdown bolds with `**`). */
export function usage(source: ChatContext["source"]): string {
  const cmd = INVOCATION[source];
  const bold = source === "teams" ? "**" : "*";
  return [
    `${bold}${cmd}${bold} closes the shared links of people who leave.`,
    `• \`${cmd} offboard <e-mail or 19-digit KooDrive user id> [dry-run]\`: start a run (operators only)`,
    `• \`${cmd} status <run id>\`: where a run stands (operators only)`,
    `• \`${cmd} help\`: this text`,
  ].join("\n");
}

/** The same command typed again by the same person within this window is the same request (one run). */
export const REPEAT_WINDOW_MS = 10 * 60_000;

/**
 * A command's idempotency key: who (workspace, user), what (the command, normalised) and when (a 10-minute
 * window). An operator who retypes a command because the chat timed out gets the run already started.
 */
export async function commandKey(who: string[], text: string, nowMs: number): Promise<string> {
  const normalised = text.trim().toLowerCase().split(/\s+/).join(" ");
  const input = [...who, normalised, String(Math.floor(nowMs / REPEAT_WINDOW_MS))].join("\n");
  return (await sha256Hex(input)).slice(0, 32);
}
const KOODRIVE_ID = /^\d{19}$/;

/** Runs one command; the answer is text for the person who typed it (never an exception for bad input). */
export async function runCommand(text: string, ctx: ChatContext): Promise<string> {
  const [verb = "", ...args] = text.trim().split(/\s+/).filter(Boolean);
  switch (verb.toLowerCase()) {
    case "":
    case "help":
      return usage(ctx.source);
    case "status":
    case "offboard":
      if (!ctx.operator) {
        // Through its own per-user limiter, not the security one: the request is signed by the chat
        // platform, and a refused colleague must not use up the budget that records forged requests.
        await recordChatRefusal(ctx.env, ctx.audit, {
          source: ctx.source,
          user: ctx.user,
          actor: ctx.actor,
          requestId: ctx.requestId,
          reason: `not an operator: ${verb.toLowerCase()}`,
        });
        return "You are not a KooDrive Offboard operator. Ask an admin to add your chat user id to the operators.";
      }
      return verb.toLowerCase() === "status" ? status(args, ctx) : offboard(args, ctx);
    default:
      return `Unknown command \`${verb.slice(0, 40)}\`.\n${usage(ctx.source)}`;
  }
}

async function status(args: string[], ctx: ChatContext): Promise<string> {
  const runId = args[0] ?? "";
  if (args.length !== 1 || !isRunId(runId))
    return `Usage: \`${INVOCATION[ctx.source]} status <run id>\` (e.g. \`hr-0123…\`).`;
  const ledger = ctx.env.RUNS.getByName(runId);
  const meta = await ledger.getMeta();
  if (!meta) return `No run \`${runId}\`.`;
  const counts = await ledger.counts();
  return describeRun(runId, meta.status, counts, meta.detail, personOf(meta.request.subject), meta);
}

async function offboard(args: string[], ctx: ChatContext): Promise<string> {
  const target = args[0] ?? "";
  const flags = args.slice(1).map((a) => a.toLowerCase());
  const dryRun = flags.some((f) => f === "dry-run" || f === "--dry-run");
  if (!target || flags.some((f) => f !== "dry-run" && f !== "--dry-run")) {
    return `Usage: \`${INVOCATION[ctx.source]} offboard <e-mail or 19-digit KooDrive user id> [dry-run]\`.`;
  }
  const subject = KOODRIVE_ID.test(target)
    ? { hrId: target, koodriveUserId: target }
    : looksLikeEmail(target) && target.length <= 320
      ? { hrId: target.toLowerCase(), email: target.toLowerCase() }
      : null;
  if (!subject) return `\`${target.slice(0, 80)}\` is neither an e-mail nor a 19-digit KooDrive user id.`;
  const eventId = `${ctx.source}:${ctx.invocationId}`;
  const request = await newRunRequest({
    source: ctx.source,
    eventId,
    subject,
    reason: `/koodrive offboard by ${ctx.actor}`.slice(0, 1000),
    dryRun,
    requestId: ctx.requestId,
    actor: ctx.actor,
    ...(ctx.notifyUrl ? { notifyUrl: ctx.notifyUrl } : {}),
  });
  const { runId, duplicate } = await startRun(ctx.env, ctx.audit, request);
  const what = dryRun ? "Dry run started (nothing will be cancelled)" : "Offboarding started";
  const then = ctx.notifyUrl ? " I will post the result here when it finishes." : "";
  return `${what} for ${target}: run \`${runId}\`${duplicate ? " (already running)" : ""}.${then}`;
}
