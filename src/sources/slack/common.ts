import type { AuthSpec } from "../../auth";
import { type AppEnv, checkChatOperators, sourceSecrets } from "../../env";
import { ApiError } from "../../errors";
import { CLOCK_MARGIN_MS, firstTime } from "../replay";
import { SLACK_TOLERANCE_S, verifySlackRequest } from "./verify";

/** What the slash command and the interactions share: the signature check, the form, the replay guard. */

export const SOURCE = "slack";

/** Slack's request signature with `SLACK_SIGNING_SECRETS`; the source is off without one. */
export const SLACK_AUTH: AuthSpec<readonly string[], Record<never, never>> = {
  source: SOURCE,
  secrets: (config) => {
    const secrets = sourceSecrets(
      config.SLACK_SIGNING_SECRETS,
      new ApiError("not_found", "the Slack command is not enabled (set SLACK_SIGNING_SECRETS)"),
    );
    checkChatOperators(config.SLACK_OPERATORS);
    return secrets;
  },
  verify: verifySlackRequest,
  unauthorized: () => new ApiError("unauthorized", "invalid or missing Slack signature"),
};

/**
 * Whether this is the first delivery of a signed command. Slack gives each invocation its own `trigger_id`
 * (inside the signed body); it is remembered while the signed timestamp could pass (300 s, plus a clock
 * margin), so a captured command replayed inside the window, even across a 10-minute command window, runs
 * nothing. A command without a `trigger_id` (Slack always sends one) is left to the command key.
 */
export async function firstDelivery(
  c: { env: AppEnv["Bindings"] },
  form: URLSearchParams,
  timestamp: string,
) {
  return firstTrigger(c.env, form.get("team_id") ?? "", form.get("trigger_id"), timestamp);
}

/** The same guard for any signed Slack request carrying a `trigger_id` (a command, a button click). */
export async function firstTrigger(
  env: AppEnv["Bindings"],
  team: string,
  trigger: string | null | undefined,
  timestamp: string,
): Promise<boolean> {
  if (!trigger) return true;
  const key = `${team}\n${trigger.slice(0, 200)}`;
  return firstTime(env, "slack", key, Number(timestamp) * 1000 + SLACK_TOLERANCE_S * 1000 + CLOCK_MARGIN_MS);
}

export function parseForm(body: Uint8Array): URLSearchParams {
  try {
    return new URLSearchParams(new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(body));
  } catch {
    throw new ApiError("bad_request", "the body is not a UTF-8 form");
  }
}
