import { looksLikeEmail } from "../../audit/schema";
import { recordChatRefusal } from "../../audit/security";
import type { AuditStore } from "../../audit/store";
import { sha256Hex } from "../../bytes";
import { type Bindings, loadConfig } from "../../env";
import { actionsFor, type HandoverRequest } from "../../offboarding/actions";
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
    `• offboard's options: \`--actions revoke_shares,handover\` (fewer actions than the policy allows; default all of them), \`--handover-to <e-mail or KooDrive user id>\` (who receives the files)`,
    `• \`${cmd} status <run id>\`: where a run stands (operators only)`,
    `• \`${cmd} help\`: this text`,
  ].join("\n");
}

/** `offboard`'s arguments, as the usage answer shows them. */
const OFFBOARD_SYNTAX =
  "offboard <e-mail or 19-digit KooDrive user id> [dry-run] [--actions a,b] [--handover-to <e-mail or KooDrive user id>]";

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

/** What `offboard` was asked: the person, and its options (as typed; checked by `offboard`). */
interface OffboardArgs {
  target: string;
  dryRun: boolean;
  actions?: string;
  handoverTo?: string;
}

/**
 * Parses `offboard <person> [dry-run] [--actions a,b] [--handover-to <person>]`, options in any order; a
 * flag's value follows it (`--actions a,b`) or is joined with `=` (`--actions=a,b`). Null when malformed.
 */
export function parseOffboard(args: readonly string[]): OffboardArgs | null {
  const [target, ...rest] = args;
  if (!target || target.startsWith("-")) return null;
  const out: OffboardArgs = { target, dryRun: false };
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i] as string;
    const [flag = "", joined] = arg.split(/=(.*)/s, 2);
    const name = flag.toLowerCase();
    if ((name === "dry-run" || name === "--dry-run") && joined === undefined) {
      out.dryRun = true;
      continue;
    }
    if (name !== "--actions" && name !== "--handover-to") return null;
    const value = joined ?? rest[++i];
    if (!value || value.startsWith("--")) return null;
    if (name === "--actions") {
      if (out.actions !== undefined) return null;
      out.actions = value;
    } else {
      if (out.handoverTo !== undefined) return null;
      out.handoverTo = value;
    }
  }
  return out;
}

/** A person typed in chat: a 19-digit KooDrive user id or an e-mail (lower-cased); null otherwise. */
function chatPerson(value: string): { koodriveUserId: string } | { email: string } | null {
  if (KOODRIVE_ID.test(value)) return { koodriveUserId: value };
  return looksLikeEmail(value) && value.length <= 320 ? { email: value.toLowerCase() } : null;
}

async function offboard(args: string[], ctx: ChatContext): Promise<string> {
  const cmd = INVOCATION[ctx.source];
  const parsed = parseOffboard(args);
  if (!parsed) return `Usage: \`${cmd} ${OFFBOARD_SYNTAX}\`.`;
  const { target, dryRun } = parsed;
  const person = chatPerson(target);
  if (!person) return `\`${target.slice(0, 80)}\` is neither an e-mail nor a 19-digit KooDrive user id.`;
  const subject =
    "koodriveUserId" in person
      ? { hrId: person.koodriveUserId, koodriveUserId: person.koodriveUserId }
      : { hrId: person.email, email: person.email };
  // Fewer actions than the policy allows, never more (issue 10): refused with the reason, nothing started.
  const asked = actionsFor(parsed.actions, loadConfig(ctx.env).OFFBOARDING_ACTIONS);
  if (!asked.ok) return `Nothing was started: ${asked.message}.`;
  let handoverTo: HandoverRequest | undefined;
  if (parsed.handoverTo !== undefined) {
    const recipient = chatPerson(parsed.handoverTo);
    if (!recipient)
      return `Nothing was started: \`${parsed.handoverTo.slice(0, 80)}\` (--handover-to) is neither an e-mail nor a 19-digit KooDrive user id.`;
    if (!asked.actions.includes("handover"))
      return `Nothing was started: --handover-to needs the handover action (this run's actions: ${asked.actions.join(", ")}).`;
    if (JSON.stringify(recipient) === JSON.stringify(person))
      return "Nothing was started: a handover never goes to the leaver; name someone else in --handover-to.";
    handoverTo = { person: recipient, from: "request" };
  }
  const eventId = `${ctx.source}:${ctx.invocationId}`;
  const request = await newRunRequest({
    source: ctx.source,
    eventId,
    subject,
    reason: `/koodrive offboard by ${ctx.actor}`.slice(0, 1000),
    dryRun,
    actions: asked.actions,
    ...(handoverTo ? { handoverTo } : {}),
    requestId: ctx.requestId,
    actor: ctx.actor,
    ...(ctx.notifyUrl ? { notifyUrl: ctx.notifyUrl } : {}),
  });
  const { runId, duplicate } = await startRun(ctx.env, ctx.audit, request);
  const what = dryRun ? "Dry run started (nothing will be cancelled)" : "Offboarding started";
  const then = ctx.notifyUrl ? " I will post the result here when it finishes." : "";
  const dup = duplicate ? " (already running)" : "";
  return `${what} for ${target}: run \`${runId}\`${dup}. Actions: ${asked.actions.join(", ")}.${then}`;
}
