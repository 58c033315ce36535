import { beforeEach, describe, expect, it } from "vitest";
import { commandText, verifyTeamsSignature } from "../src/sources/teams/route";
import { DEMO, sim } from "./helpers/sim";
import { admin, call, clearHolds, uniqueId, waitForRun } from "./helpers/worker";

/** The security token configured in vitest.config.ts (TEAMS_WEBHOOK_TOKENS), base64 as Teams shows it. */
const TOKEN = "dGVhbXMtdGVzdC1zZWN1cml0eS10b2tlbi0wMTIzNDU2Nzg5";
const OPERATOR = "6f1c7a2e-0000-4000-8000-0000000000aa";

async function hmac(token: string, body: string): Promise<string> {
  const key = await crypto.subtle.importKey(
    "raw",
    Uint8Array.from(atob(token), (ch) => ch.charCodeAt(0)),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(body)));
  return `HMAC ${btoa(String.fromCharCode(...mac))}`;
}

function activity(
  text: string,
  from: Record<string, string> = { aadObjectId: OPERATOR, name: "Olu Operator" },
) {
  return JSON.stringify({
    type: "message",
    id: uniqueId("activity"),
    text: `<at>KooDrive</at>&nbsp;${text}`,
    from: { id: "29:1abc", ...from },
    channelData: { tenant: { id: "tenant-1" } },
  });
}

async function send(body: string, auth?: string | null) {
  const headers = new Headers({ "content-type": "application/json" });
  const value = auth === undefined ? await hmac(TOKEN, body) : auth;
  if (value !== null) headers.set("authorization", value);
  return call("/chatops/teams", { method: "POST", headers, body });
}

async function reply(res: Response): Promise<string> {
  expect(res.status).toBe(200);
  const body = (await res.json()) as { type: string; text: string };
  expect(body.type).toBe("message");
  return body.text;
}

beforeEach(async () => {
  await sim.reset();
  await sim.seed({ demo: true });
  await clearHolds();
});

describe("Teams outgoing webhook", () => {
  it("verifies the HMAC of the exact body with the base64-decoded token", async () => {
    const body = '{"text":"hi"}';
    const enc = new TextEncoder();
    expect(await verifyTeamsSignature(await hmac(TOKEN, body), enc.encode(body), [TOKEN])).toBe(true);
    expect(await verifyTeamsSignature(await hmac(TOKEN, body), enc.encode(`${body} `), [TOKEN])).toBe(false);
    expect(
      await verifyTeamsSignature(await hmac(btoa("another-token-000000"), body), enc.encode(body), [TOKEN]),
    ).toBe(false);
    expect(await verifyTeamsSignature("HMAC not-base64!", enc.encode(body), [TOKEN])).toBe(false);
    expect(commandText("<at>KooDrive</at>&nbsp;status <b>x</b>")).toBe("status  x");
  });

  it("an operator offboards through an @mention; status then reports the run", async () => {
    const before = await sim.shares(DEMO.leaver, "active");
    const text = await reply(await send(activity(`offboard ${DEMO.leaver}`)));
    expect(text).toMatch(/Offboarding started/);
    const runId = /`(teams-[0-9a-f]{32})`/.exec(text)?.[1] ?? "";
    const run = await waitForRun(runId);
    expect(run.status).toBe("completed");
    expect(run.counts.cancelled).toBe(before.length);
    const audit = await (await admin(`/audit?user=${DEMO.leaver}&limit=50`)).text();
    expect(audit).toContain(`teams:${OPERATOR} (Olu Operator)`);
    expect(await reply(await send(activity(`status ${runId}`)))).toMatch(/\*\*completed\*\*/);
  });

  it("a non-operator gets help but cannot act; a bad or missing signature is 401 and nothing runs", async () => {
    const someone = { aadObjectId: "00000000-0000-4000-8000-00000000beef", name: "Sam" };
    expect(await reply(await send(activity("help", someone)))).toMatch(/offboard/);
    expect(await reply(await send(activity(`offboard ${DEMO.leaver}`, someone)))).toMatch(
      /not a KooDrive Offboard operator/,
    );
    const body = activity(`offboard ${DEMO.leaver}`);
    expect((await send(body, await hmac(btoa("wrong-token-0000000000"), body))).status).toBe(401);
    expect((await send(body, null)).status).toBe(401);
    expect((await sim.calls(0)).calls).toHaveLength(0);
    const bad = activity("help").replace('"from"', '"frm"');
    expect((await send(bad)).status).toBe(422);
  });
});
