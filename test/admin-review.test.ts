/**
 * Found by an attacker's review of identities, roles, tokens and the console (each failed before its fix):
 * a hostile run id in a console form; a look-alike e-mail taking a listed person's role; a roleless
 * identity flooding the trail; a link on another site recording an export in a user's name; and the
 * admin API's answers are never cached.
 */
import { describe, expect, it } from "vitest";
import { newTeam } from "./helpers/access";
import { type AuditView, auditOf } from "./helpers/admin";
import { callWith } from "./helpers/env";
import { withinOneWindow } from "./helpers/limits";
import { admin, uniqueId } from "./helpers/worker";

const ORIGIN = "https://offboard.example.com";

/** The newest audit records (up to 100). */
async function latestAudit(): Promise<AuditView[]> {
  const res = await admin("/audit?limit=100");
  expect(res.status).toBe(200);
  return ((await res.json()) as { records: AuditView[] }).records;
}

describe("console retry form with a hostile run id", () => {
  it("answers a 4xx page, not a 500, for a run id holding a line break (unconfirmed form)", async () => {
    const res = await admin("/console/runs/%0D%0Ax/retry", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", origin: ORIGIN },
      body: "confirmed=no",
      redirect: "manual",
    });
    expect(res.status).toBeLessThan(500);
    expect(res.status).toBeGreaterThanOrEqual(400);
  });
});

describe("role lists match exactly, without Unicode case folding", () => {
  it("an Access e-mail with a KELVIN SIGN is not the listed admin, and is not recorded as them", async () => {
    const local = uniqueId("kate").toLowerCase();
    const listed = `k${local}@acme.example`;
    const lookalike = `\u212A${local}@acme.example`; // U+212A lower-cases to "k" in JavaScript
    expect(lookalike.toLowerCase()).toBe(listed); // the premise: toLowerCase folds it onto the admin
    const team = await newTeam({ CONSOLE_ADMINS: listed });
    const jwt = await team.sign({ email: lookalike, sub: "someone-else" });
    const requestId = uniqueId("kelvin");
    const res = await callWith(team.vars, "/tokens", {
      headers: { "cf-access-jwt-assertion": jwt, "x-request-id": requestId },
    });
    // A different address (another mailbox, another IdP account) must not get the admin's role: an Access
    // e-mail that is not plain ASCII is refused outright, and nothing is recorded under the admin's name.
    expect(res.status).toBe(401);
    expect((await auditOf(requestId)).filter((r) => r.actor === listed)).toEqual([]);
  });
});

describe("refusals of a verified identity with no role are rate-limited like other refusals", () => {
  it("30 calls in a minute by one roleless Access user do not write 30 admin.denied records", async () => {
    await withinOneWindow(20_000);
    const team = await newTeam({ CONSOLE_ADMINS: "someone-else@acme.example" });
    const who = `${uniqueId("nobody").toLowerCase()}@acme.example`;
    const jwt = await team.sign({ email: who, sub: "user-x" });
    for (let i = 0; i < 30; i++) {
      const res = await callWith(team.vars, "/audit?limit=1", {
        headers: { "cf-access-jwt-assertion": jwt },
      });
      expect(res.status).toBe(403);
    }
    const denied = (await latestAudit()).filter((r) => r.type === "admin.denied" && r.actor === who);
    // SECURITY_AUDIT_LIMITER allows 20 a minute per source and IP (wrangler.toml); nothing here is bounded.
    expect(denied.length).toBeLessThanOrEqual(20);
  });
});

describe("a cross-site navigation cannot write an audit record in an Access user's name", () => {
  it("GET /runs/:id/export reached from another site (Sec-Fetch-Site: cross-site) records no admin.export", async () => {
    // A run to export: any accepted run will do; start a dry run as break-glass.
    const start = await admin("/offboardings", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ person: "1505084218764549950", dryRun: true, reason: "r2-4" }),
    });
    expect(start.status).toBeLessThan(300);
    const { runId } = (await start.json()) as { runId: string };
    const team = await newTeam({ CONSOLE_VIEWERS: "vic@acme.example" });
    const jwt = await team.sign({ email: "vic@acme.example", sub: "vic" });
    const requestId = uniqueId("xsite");
    // What a top-level link click on another site sends (SameSite=Lax cookies go along).
    const res = await callWith(team.vars, `/runs/${runId}/export?format=csv`, {
      headers: {
        cookie: `CF_Authorization=${jwt}`,
        "sec-fetch-site": "cross-site",
        "sec-fetch-mode": "navigate",
        "x-request-id": requestId,
      },
    });
    const records = await auditOf(requestId);
    expect(records.filter((r) => r.type === "admin.export")).toEqual([]);
    expect(res.status).toBe(403);
  });
});

describe("admin answers are not cached", () => {
  it("every admin API answer says Cache-Control: no-store (tokens are shown once, exports hold personal data)", async () => {
    for (const path of ["/audit?limit=1", "/holds", "/tokens", "/runs?limit=1"]) {
      const res = await admin(path);
      expect(res.status, path).toBe(200);
      expect(res.headers.get("cache-control"), path).toBe("no-store");
    }
  });

  it("a malformed kdo_ token is 401 without asking the token store", async () => {
    const res = await callWith({}, "/audit?limit=1", { headers: { authorization: "Bearer kdo_short" } });
    expect(res.status).toBe(401);
  });
});
