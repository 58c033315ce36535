import { env } from "cloudflare:workers";
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import { type Bindings, loadConfig } from "../src/env";
import { callWith, postHr } from "./helpers/env";
import { SLACK_TEAM, signedSlack } from "./helpers/slack";
import { ADMIN_TOKEN, offboardedEvent, uniqueId } from "./helpers/worker";

/**
 * Review 6, area 1: a malformed chat operator link names the setting, the entry and its id, never the e-mail
 * (docs/security.md "Four eyes across chat and the console"). An entry written the wrong way round,
 * `<e-mail>=<id>`, is the likeliest mistake: its "id" is the e-mail. It fails the chat source and approval
 * decisions only, like a bad optional secret fails its source: intake does not stop for a chat setting.
 */

const EMAIL = "ada.lovelace@example.com";
const SWAPPED = `W0OPERATOR2, ${EMAIL}=U2CERLKJA`;

describe("review6: a chat operator link written the wrong way round", () => {
  const errors = vi.spyOn(console, "error").mockImplementation(() => undefined);
  afterEach(() => errors.mockClear());
  afterAll(() => errors.mockRestore());

  it("is refused without the e-mail in the problem (config): nobody is an operator of that list", () => {
    for (const name of ["SLACK_OPERATORS", "TEAMS_OPERATORS"] as const) {
      const list = loadConfig({ ...env, [name]: SWAPPED } as unknown as Bindings)[name];
      expect(list.problem).toMatch(new RegExp(`${name} entry 2`));
      expect(list.problem).not.toContain(EMAIL);
      expect(list.ids).toEqual([]);
    }
  });

  it("fails only chat and decisions (503, the log names the entry, not the e-mail); intake and the rest keep working", async () => {
    const broken = { SLACK_OPERATORS: SWAPPED };
    // The health check and the admin side still answer.
    expect((await callWith(broken, "/healthz")).status).toBe(200);
    const audit = await callWith(broken, "/audit?limit=1", {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    expect(audit.status).toBe(200);
    // HR intake: a signed event is accepted.
    const hr = await postHr(
      offboardedEvent({ id: "E-R6-LINK", email: "nobody.r6@example.com" }),
      broken,
      uniqueId(),
    );
    expect(hr.status).toBe(202);
    // A Slack command: 503, no run.
    const slack = await signedSlack(
      "/chatops/slack",
      new URLSearchParams({
        command: "/koodrive",
        text: "offboard somebody.r6@example.com",
        user_id: "W0OPERATOR2",
        team_id: SLACK_TEAM,
        trigger_id: `${Date.now()}.1.r6`,
        response_url: "https://hooks.slack.com/commands/T1/1/r6",
      }).toString(),
      broken,
    );
    expect(slack.status).toBe(503);
    // A decision through the admin API: 503 before any ledger is touched.
    const decision = await callWith(broken, "/runs/hr-0123456789abcdef0123456789abcdef/approve", {
      method: "POST",
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
      body: "{}",
    });
    expect(decision.status).toBe(503);
    for (const res of [slack, decision]) {
      const text = await res.text();
      expect(JSON.parse(text)).toMatchObject({ error: { code: "misconfigured" } });
      expect(text).not.toContain(EMAIL);
    }
    const logged = errors.mock.calls.map((args) => String(args[0])).join("\n");
    expect(logged).toMatch(/SLACK_OPERATORS entry 2/);
    expect(logged).not.toContain(EMAIL);
  });
});
