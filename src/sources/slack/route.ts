import { Hono, type MiddlewareHandler } from "hono";
import { type AuthSpec, authenticate } from "../../auth";
import { type AppEnv, sourceSecrets } from "../../env";
import { ApiError } from "../../errors";
import { limitBody } from "../../http";
import { isSlackResponseUrl } from "../../offboarding/notify";
import { commandKey, runCommand } from "../chat/commands";
import { verifySlackRequest } from "./verify";

/** A slash command is a small form; anything over 64 KiB is refused before any work. */
export const MAX_SLACK_BODY_BYTES = 64 * 1024;
const SOURCE = "slack";

/** Slack's request signature with `SLACK_SIGNING_SECRETS`; the source is off without one. */
const SLACK_AUTH: AuthSpec<readonly string[], Record<never, never>> = {
  source: SOURCE,
  secrets: (config) =>
    sourceSecrets(
      config.SLACK_SIGNING_SECRETS,
      new ApiError("not_found", "the Slack command is not enabled (set SLACK_SIGNING_SECRETS)"),
    ),
  verify: verifySlackRequest,
  unauthorized: () => new ApiError("unauthorized", "invalid or missing Slack signature"),
};

/**
 * Slack's SSL check probe (`ssl_check=1`) is answered 200 without doing anything [webhook-sources.md]; it
 * comes before authentication, as it is not signed. Hono caches the body, so it is still read only once.
 */
const sslCheck: MiddlewareHandler<AppEnv> = async (c, next) => {
  const body = new TextDecoder().decode(await c.req.arrayBuffer());
  if (new URLSearchParams(body).get("ssl_check") === "1") return c.body(null, 200);
  await next();
};

function parseForm(body: Uint8Array): URLSearchParams {
  try {
    return new URLSearchParams(new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(body));
  } catch {
    throw new ApiError("bad_request", "the body is not a UTF-8 form");
  }
}

/**
 * `POST /chatops/slack`: the `/koodrive` slash command. Authenticated on the raw bytes (`SLACK_AUTH`), runs
 * the command and answers at once (Slack waits 3 s), ephemerally: only the person who typed it sees it. A
 * started run posts its result to the command's `response_url` when it finishes.
 */
export function slackRoutes() {
  const app = new Hono<AppEnv>();

  app.post("/", limitBody(MAX_SLACK_BODY_BYTES), sslCheck, authenticate(SLACK_AUTH), async (c) => {
    const form = parseForm(c.var.rawBody);

    const user = (form.get("user_id") ?? "").slice(0, 40);
    const team = (form.get("team_id") ?? "").slice(0, 40);
    const name = (form.get("user_name") ?? "").replace(/[^\w.@ -]/g, "").slice(0, 80);
    const text = (form.get("text") ?? "").slice(0, 500);
    const operator = user !== "" && c.var.config.SLACK_OPERATORS.includes(user);
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

  return app;
}
