import { Hono } from "hono";
import * as z from "zod";
import { type AuthSpec, authenticate } from "../../auth";
import { type AppEnv, checkChatOperators, sourceSecrets } from "../../env";
import { ApiError, fieldErrors } from "../../errors";
import { limitBody, parseJsonBody } from "../../http";
import { commandKey, runCommand } from "../chat/commands";
import { firstDelivery } from "./replay";
import { type TeamsVerified, verifyTeamsActivity } from "./verify";

/** An outgoing-webhook activity is small; anything over 64 KiB is refused before any work. */
export const MAX_TEAMS_BODY_BYTES = 64 * 1024;
const SOURCE = "teams";

/** What the command needs from a Teams activity; the rest is ignored. */
const Activity = z.looseObject({
  type: z.string().max(50).optional(),
  id: z.string().max(200).optional(),
  text: z.string().max(4000).optional(),
  from: z.looseObject({
    id: z.string().max(200).optional(),
    name: z.string().max(200).optional(),
    aadObjectId: z.string().max(100).optional(),
  }),
});

/** The HMAC with `TEAMS_WEBHOOK_TOKENS` and a fresh signed timestamp; the source is off without a token. */
const TEAMS_AUTH: AuthSpec<readonly string[], TeamsVerified> = {
  source: SOURCE,
  secrets: (config) => {
    const secrets = sourceSecrets(
      config.TEAMS_WEBHOOK_TOKENS,
      new ApiError("not_found", "the Teams command is not enabled (set TEAMS_WEBHOOK_TOKENS)"),
    );
    checkChatOperators(config.TEAMS_OPERATORS);
    return secrets;
  },
  verify: verifyTeamsActivity,
  unauthorized: () => new ApiError("unauthorized", "invalid or missing Teams HMAC signature"),
};

/** The answer to a replayed activity: Teams shows it like any reply; nothing was run again. */
export const ALREADY_HANDLED =
  "This message was already handled; nothing was done again. Use `status <run id>` to see a run.";

/** The command text without the bot's @mention and the HTML Teams wraps around it. */
export function commandText(text: string): string {
  return text
    .replace(/<at>.*?<\/at>/gi, " ")
    .replace(/<[^>]+>/g, " ")
    .replace(/&nbsp;/gi, " ")
    .replace(/&amp;/gi, "&")
    .trim();
}

/**
 * `POST /chatops/teams`: the same commands as Slack's `/koodrive`, from a Teams outgoing webhook
 * (`@KooDrive offboard ...`). Teams waits 5 s for the synchronous reply and offers no later follow-up, so
 * a run's result is read with `status`. Authenticated by `TEAMS_AUTH` (HMAC, then a signed timestamp within
 * five minutes); an activity id seen before is answered as already handled.
 */
export function teamsRoutes() {
  const app = new Hono<AppEnv>();

  app.post("/", limitBody(MAX_TEAMS_BODY_BYTES), authenticate(TEAMS_AUTH), async (c) => {
    const parsed = Activity.safeParse(parseJsonBody(c.var.rawBody));
    if (!parsed.success) {
      throw new ApiError("invalid_body", "the activity is invalid", fieldErrors(parsed.error.issues));
    }
    if (!(await firstDelivery(c.env, c.var.verified))) {
      // A replay inside the freshness window: answered, not run (no command, no run, no audit record).
      console.info(
        JSON.stringify({ level: "info", msg: "teams activity replayed", requestId: c.var.requestId }),
      );
      return c.json({ type: "message", text: ALREADY_HANDLED });
    }
    const activity = parsed.data;
    const user = activity.from.aadObjectId ?? activity.from.id ?? "";
    const name = (activity.from.name ?? "").replace(/[^\w.@ -]/g, "").slice(0, 80);
    const text = commandText(activity.text ?? "").slice(0, 500);
    const operator = user !== "" && c.var.config.TEAMS_OPERATORS.ids.includes(user);
    const invocationId = await commandKey([user], text, Date.now());
    const reply = await runCommand(text, {
      env: c.env,
      audit: c.var.audit,
      requestId: c.var.requestId,
      source: SOURCE,
      actor: `teams:${user.slice(0, 100)}${name ? ` (${name})` : ""}`,
      user: user.slice(0, 100),
      operator,
      invocationId,
    });
    return c.json({ type: "message", text: reply.replaceAll("*", "**") });
  });

  return app;
}
