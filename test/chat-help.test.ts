import { describe, expect, it } from "vitest";
import { signSlack } from "./helpers/signers";
import { call, uniqueId } from "./helpers/worker";

/** Secrets configured in vitest.config.ts (SLACK_SIGNING_SECRETS, TEAMS_WEBHOOK_TOKENS). */
const SLACK_SECRET = "8f742231b10e8888abcd99yyyzzz85a5";
const TEAMS_TOKEN = "dGVhbXMtdGVzdC1zZWN1cml0eS10b2tlbi0wMTIzNDU2Nzg5";

/** The help text Slack shows: as before, and offboard's options (issue 10: the actions of a run). */
const SLACK_HELP = [
  "*/koodrive* closes the shared links of people who leave.",
  "• `/koodrive offboard <e-mail or 19-digit KooDrive user id> [dry-run]`: start a run (operators only)",
  "• offboard's options: `--actions revoke_shares,handover` (fewer actions than the policy allows; default all of them), `--handover-to <e-mail or KooDrive user id>` (who receives the files)",
  "• `/koodrive status <run id>`: where a run stands (operators only)",
  "• `/koodrive help`: this text",
].join("\n");

async function slack(text: string): Promise<string> {
  const body = new URLSearchParams({
    team_id: "T1",
    user_id: "U0SOMEONE",
    command: "/koodrive",
    text,
  }).toString();
  const ts = Math.floor(Date.now() / 1000);
  const res = await call("/chatops/slack", {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      "x-slack-request-timestamp": String(ts),
      "x-slack-signature": await signSlack(SLACK_SECRET, ts, body),
    },
    body,
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { text: string }).text;
}

/** A Teams activity signed as the outgoing webhook signs it: HMAC-SHA256 keyed with the decoded token. */
async function teams(text: string): Promise<string> {
  const body = JSON.stringify({
    type: "message",
    id: uniqueId("activity"),
    timestamp: new Date().toISOString(),
    text: `<at>KooDrive</at>&nbsp;${text}`,
    from: { id: "29:1abc", aadObjectId: "6f1c7a2e-0000-4000-8000-0000000000ff", name: "Sam Someone" },
  });
  const key = await crypto.subtle.importKey(
    "raw",
    Uint8Array.from(atob(TEAMS_TOKEN), (ch) => ch.charCodeAt(0)),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(body)));
  const res = await call("/chatops/teams", {
    method: "POST",
    headers: {
      "content-type": "application/json",
      authorization: `HMAC ${btoa(String.fromCharCode(...mac))}`,
    },
    body,
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { text: string }).text;
}

describe("chat help speaks each chat's syntax", () => {
  it("Slack shows the /koodrive slash command, exactly as before", async () => {
    expect(await slack("help")).toBe(SLACK_HELP);
    expect(await slack("")).toBe(SLACK_HELP);
    expect(await slack("frobnicate")).toBe(`Unknown command \`frobnicate\`.\n${SLACK_HELP}`);
  });

  it("Teams shows @KooDrive, never Slack's /koodrive", async () => {
    for (const text of ["help", "", "frobnicate"]) {
      const help = await teams(text);
      expect(help).toContain("`@KooDrive offboard <e-mail or 19-digit KooDrive user id> [dry-run]`");
      expect(help).toContain("`--actions revoke_shares,handover`");
      expect(help).toContain("`--handover-to <e-mail or KooDrive user id>`");
      expect(help).toContain("`@KooDrive status <run id>`");
      expect(help).toContain("`@KooDrive help`");
      expect(help).not.toContain("/koodrive");
    }
  });
});
