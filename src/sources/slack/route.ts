import { type Context, Hono } from "hono";
import { recordRejection } from "../../audit/security";
import { type AppEnv, sourceSecrets } from "../../env";
import { ApiError } from "../../errors";
import { limitBody, rawBody } from "../../http";
import { isSlackResponseUrl } from "../../offboarding/notify";
import { commandKey, runCommand } from "../chat/commands";
import { verifySlackSignature } from "./signature";

/** A slash command is a small form; anything over 64 KiB is refused before any work. */
export const MAX_SLACK_BODY_BYTES = 64 * 1024;
const SOURCE = "slack";

async function authenticate(c: Context<AppEnv>, body: Uint8Array): Promise<void> {
  const secrets = sourceSecrets(
    c.var.config.SLACK_SIGNING_SECRETS,
    new ApiError("not_found", "the Slack command is not enabled (set SLACK_SIGNING_SECRETS)"),
  );
  const verdict = await verifySlackSignature({
    timestamp: c.req.header("x-slack-request-timestamp"),
    signature: c.req.header("x-slack-signature"),
    body,
    secrets,
    nowSeconds: Math.floor(Date.now() / 1000),
  });
  if (!verdict.ok) {
    await recordRejection(c, SOURCE, verdict.reason);
    throw new ApiError("unauthorized", "invalid or missing Slack signature");
  }
}

function parseForm(body: Uint8Array): URLSearchParams {
  try {
    return new URLSearchParams(new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(body));
  } catch {
    throw new ApiError("bad_request", "the body is not a UTF-8 form");
  }
}

/**
 * `POST /chatops/slack`: the `/koodrive` slash command. Verifies Slack's signature on the raw bytes, runs
 * the command and answers at once (Slack waits 3 s), ephemerally: only the person who typed it sees it. A
 * started run posts its result to the command's `response_url` when it finishes.
 */
export function slackRoutes() {
  const app = new Hono<AppEnv>();

  app.post("/", limitBody(MAX_SLACK_BODY_BYTES), async (c) => {
    const body = await rawBody(c);
    // Slack's SSL check probe: answered without doing anything [webhook-sources.md]. Everything else is
    // verified before it is parsed.
    if (new URLSearchParams(new TextDecoder().decode(body)).get("ssl_check") === "1")
      return c.body(null, 200);
    await authenticate(c, body);
    const form = parseForm(body);

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
      operator,
      invocationId,
      ...(isSlackResponseUrl(responseUrl) ? { notifyUrl: responseUrl } : {}),
    });
    return c.json({ response_type: "ephemeral", text: reply });
  });

  return app;
}
