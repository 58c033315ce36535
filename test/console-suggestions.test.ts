/**
 * The console's suggested matches (issue 9 section 3 "Identities ... suggested matches") through the
 * Worker's real entry: people seen from HR beside the KooDrive users of the same name; an admin confirms one
 * (radio per candidate) or several (checkboxes), or dismisses; the identity map and the audit trail change
 * through the API's own functions, and a refused confirmation changes nothing.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import { newTeam } from "./helpers/access";
import { auditOf } from "./helpers/admin";
import { callWith, postHr } from "./helpers/env";
import { type SeededUser, sim } from "./helpers/sim";
import { admin, uniqueId } from "./helpers/worker";

const ORIGIN = "https://offboard.example.com";
const BASE = "/console/identities/suggestions";
let n = 0;
const domain = () => `cs${Date.now().toString(36)}${n++}.example.com`;

let riley: SeededUser;
let jordan1: SeededUser;
let jordan2: SeededUser;

beforeEach(async () => {
  await sim.reset();
  await sim.seed({ demo: true });
  const { users } = await sim.seed({
    users: [{ name: "Riley Unique" }, { name: "Jordan Lee" }, { name: "Jordan Lee" }],
  });
  [riley, jordan1, jordan2] = users as [SeededUser, SeededUser, SeededUser];
  await runInDurableObject(env.PEOPLE_SEEN.getByName("people"), async (_instance, state) => {
    state.storage.sql.exec("DELETE FROM people");
    state.storage.sql.exec("UPDATE meta SET v = 0 WHERE k = 'count'");
  });
});

/** A verified HR `employee.updated`: records the person as seen without a mapping. */
async function seen(id: string, email: string, name: string) {
  const raw = JSON.stringify({
    type: "employee.updated",
    timestamp: new Date().toISOString(),
    data: { employee: { id, email, name } },
  });
  const res = await postHr(raw);
  expect(res.status).toBe(200);
}

async function post(path: string, fields: Array<[string, string]>) {
  const requestId = uniqueId("cs");
  const res = await admin(path, {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      origin: ORIGIN,
      "x-request-id": requestId,
    },
    body: new URLSearchParams(fields).toString(),
  });
  return { res, html: await res.text(), requestId };
}

async function mapped(key: string) {
  const res = await admin(`/identities/${encodeURIComponent(key)}`);
  return res.status === 200 ? ((await res.json()) as { koodriveUserId: string }).koodriveUserId : null;
}

describe("console suggested matches", () => {
  it("lists people with their candidates; confirms one by radio, several by checkbox, and dismisses", async () => {
    const d = domain();
    await seen("E-RILEY", `riley@${d}`, "Riley Unique");
    await seen("E-JORDAN", `jordan@${d}`, "Jordan Lee");
    await seen("E-NOBODY", `nobody@${d}`, "Nobody Here");
    const list = await admin(BASE);
    expect(list.status).toBe(200);
    const html = await list.text();
    for (const id of [riley.userId, jordan1.userId, jordan2.userId]) expect(html).toContain(id);
    expect(html).toContain(`form="bulk" value="${riley.userId}:email:riley@${d}"`);
    expect(html).not.toContain(`form="bulk" value="${jordan1.userId}`);

    // The ambiguous one: the admin picks a candidate by its radio.
    const one = await post(`${BASE}/confirm`, [["match", `${jordan2.userId}:email:jordan@${d}`]]);
    expect(one.res.status).toBe(200);
    expect(one.html).toContain("Confirmed 1 match");
    expect(await mapped(`email:jordan@${d}`)).toBe(jordan2.userId);
    const [record] = await auditOf(one.requestId);
    expect(record).toMatchObject({ type: "admin.identities", actor: "break-glass" });

    // A KooDrive id that is not a candidate: refused, nothing stored.
    const wrong = await post(`${BASE}/bulk`, [
      ["action", "confirm"],
      ["match", `${jordan1.userId}:email:riley@${d}`],
    ]);
    expect(wrong.res.status).toBe(409);
    expect(wrong.html).toContain("Nothing was changed");
    expect(await mapped(`email:riley@${d}`)).toBeNull();

    const bulk = await post(`${BASE}/bulk`, [
      ["action", "confirm"],
      ["match", `${riley.userId}:email:riley@${d}`],
    ]);
    expect(bulk.res.status).toBe(200);
    expect(await mapped(`email:riley@${d}`)).toBe(riley.userId);

    const dismissed = await post(`${BASE}/dismiss`, [["key", `email:nobody@${d}`]]);
    expect(dismissed.res.status).toBe(200);
    expect(dismissed.html).toContain("Dismissed 1");
    const after = await (await admin(BASE)).text();
    expect(after).not.toContain(`nobody@${d}`);
    expect(after).not.toContain(`riley@${d}`);

    const none = await post(`${BASE}/bulk`, [["action", "confirm"]]);
    expect(none.res.status).toBe(422);
  });

  it("a viewer sees the suggestions without forms and gets 403 on every action", async () => {
    const d = domain();
    await seen("E-RILEY2", `riley@${d}`, "Riley Unique");
    const team = await newTeam({ CONSOLE_VIEWERS: "vic@acme.example" });
    const jwt = await team.sign({ email: "vic@acme.example" });
    const page = await callWith(team.vars, BASE, { headers: { "cf-access-jwt-assertion": jwt } });
    const html = await page.text();
    expect(page.status).toBe(200);
    expect(html).toContain(riley.userId);
    expect(html).not.toContain('method="post"');
    for (const path of [`${BASE}/confirm`, `${BASE}/bulk`, `${BASE}/dismiss`]) {
      const res = await callWith(team.vars, path, {
        method: "POST",
        headers: {
          "cf-access-jwt-assertion": jwt,
          "content-type": "application/x-www-form-urlencoded",
          origin: ORIGIN,
        },
        body: new URLSearchParams({
          match: `${riley.userId}:email:riley@${d}`,
          key: `email:riley@${d}`,
        }).toString(),
      });
      expect(res.status, path).toBe(403);
    }
    expect(await mapped(`email:riley@${d}`)).toBeNull();
  });
});
