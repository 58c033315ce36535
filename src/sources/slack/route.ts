import { Hono, type MiddlewareHandler } from "hono";
import { authenticate } from "../../auth";
import type { AppEnv } from "../../env";
import { limitBody } from "../../http";
import { isSlackResponseUrl } from "../../offboarding/notify";
import { commandKey, runCommand } from "../chat/commands";
import { firstDelivery, parseForm, SLACK_AUTH, SOURCE } from "./common";
import { interactions } from "./interactions";

/** A slash command is a small form; anything over 64 KiB is refused before any work. */
export const MAX_SLACK_BODY_BYTES = 64 * 1024;

/**
 * Slack's SSL check probe (`ssl_check=1`) is answered 200 without doing anything [webhook-sources.md]; it
 * comes before authentication, as it is not signed. Hono caches the body, so it is still read only once.
 */
const sslCheck: MiddlewareHandler<AppEnv> = async (c, next) => {
  const body = new TextDecoder().decode(await c.req.arrayBuffer());
  if (new URLSearchParams(body).get("ssl_check") === "1") return c.body(null, 200);
  await next();
};

/** The answer to a replayed command: Slack shows it like any reply; nothing was run again. */
export const REPLAYED =
  "This command was already handled; nothing was done again. Type `/koodrive status <run id>` to see a run.";

/**
 * `POST /chatops/slack`: the `/koodrive` slash command. Authenticated on the raw bytes (`SLACK_AUTH`), runs
 * the command and answers at once (Slack waits 3 s), ephemerally: only the person who typed it sees it. A
 * started run posts its result to the command's `response_url` when it finishes.
 */
export function slackRoutes() {
  const app = new Hono<AppEnv>();

  app.post("/", limitBody(MAX_SLACK_BODY_BYTES), sslCheck, authenticate(SLACK_AUTH), async (c) => {
    const form = parseForm(c.var.rawBody);
    // Verified, so the timestamp header is well formed and fresh.
    if (!(await firstDelivery(c, form, c.req.header("x-slack-request-timestamp") ?? "0"))) {
      console.log(
        JSON.stringify({ level: "info", msg: "slack command replayed", requestId: c.var.requestId }),
      );
      return c.json({ response_type: "ephemeral", text: REPLAYED });
    }

    const user = (form.get("user_id") ?? "").slice(0, 40);
    const team = (form.get("team_id") ?? "").slice(0, 40);
    const name = (form.get("user_name") ?? "").replace(/[^\w.@ -]/g, "").slice(0, 80);
    const text = (form.get("text") ?? "").slice(0, 500);
    const operator = user !== "" && c.var.config.SLACK_OPERATORS.ids.includes(user);
    const responseUrl = form.get("response_url") ?? "";
    const invocationId = await commandKey([team, user], text, Date.now());
    const reply = await runCommand(text, {
      env: c.env,
      audit: c.var.audit,
      requestId: c.var.requestId,
      source: SOURCE,
      actor: `slack:${team}:${user}${name ? ` (${name})` : ""}`,
      user: `${team}:${user}`,
      operator,
      invocationId,
      ...(isSlackResponseUrl(responseUrl) ? { notifyUrl: responseUrl } : {}),
    });
    return c.json({ response_type: "ephemeral", text: reply });
  });

  // Slack's Interactivity Request URL: the Approve / Reject buttons (issue 11).
  app.post("/interactions", limitBody(MAX_SLACK_BODY_BYTES), authenticate(SLACK_AUTH), interactions);

  return app;
}
