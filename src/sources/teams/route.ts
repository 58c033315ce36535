import { type Context, Hono } from "hono";
import * as z from "zod";
import { recordRejection } from "../../audit/security";
import { base64ToBytes } from "../../bytes";
import { type AppEnv, sourceSecrets } from "../../env";
import { ApiError, fieldErrors } from "../../errors";
import { limitBody, parseJsonBody, rawBody } from "../../http";
import { commandKey, runCommand } from "../chat/commands";

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

/**
 * Teams outgoing webhooks sign the body: `Authorization: HMAC <base64 HMAC-SHA256>` keyed with the
 * base64-decoded security token [webhook-sources.md]. Verified with `crypto.subtle.verify` (constant time).
 */
export async function verifyTeamsSignature(
  header: string | undefined,
  body: Uint8Array,
  tokens: readonly string[],
): Promise<boolean> {
  const m = /^HMAC ([A-Za-z0-9+/]+={0,2})$/.exec(header ?? "");
  const mac = m?.[1] ? base64ToBytes(m[1]) : null;
  if (mac?.length !== 32) return false;
  for (const token of tokens) {
    const raw = base64ToBytes(token);
    if (!raw || raw.length === 0) continue;
    const key = await crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, [
      "verify",
    ]);
    if (await crypto.subtle.verify("HMAC", key, mac, body)) return true;
  }
  return false;
}

async function authenticate(c: Context<AppEnv>, body: Uint8Array): Promise<void> {
  const tokens = sourceSecrets(
    c.var.config.TEAMS_WEBHOOK_TOKENS,
    new ApiError("not_found", "the Teams command is not enabled (set TEAMS_WEBHOOK_TOKENS)"),
  );
  if (!(await verifyTeamsSignature(c.req.header("authorization"), body, tokens))) {
    await recordRejection(c, SOURCE, "bad_signature");
    throw new ApiError("unauthorized", "invalid or missing Teams HMAC signature");
  }
}

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
 * a run's result is read with `status`.
 */
export function teamsRoutes() {
  const app = new Hono<AppEnv>();

  app.post("/", limitBody(MAX_TEAMS_BODY_BYTES), async (c) => {
    const body = await rawBody(c);
    await authenticate(c, body);
    const parsed = Activity.safeParse(parseJsonBody(body));
    if (!parsed.success) {
      throw new ApiError("invalid_body", "the activity is invalid", fieldErrors(parsed.error.issues));
    }
    const activity = parsed.data;
    const user = activity.from.aadObjectId ?? activity.from.id ?? "";
    const name = (activity.from.name ?? "").replace(/[^\w.@ -]/g, "").slice(0, 80);
    const text = commandText(activity.text ?? "").slice(0, 500);
    const operator = user !== "" && c.var.config.TEAMS_OPERATORS.includes(user);
    const invocationId = await commandKey([user], text, Date.now());
    const reply = await runCommand(text, {
      env: c.env,
      audit: c.var.audit,
      requestId: c.var.requestId,
      source: SOURCE,
      actor: `teams:${user.slice(0, 100)}${name ? ` (${name})` : ""}`,
      operator,
      invocationId,
    });
    return c.json({ type: "message", text: reply.replaceAll("*", "**") });
  });

  return app;
}
