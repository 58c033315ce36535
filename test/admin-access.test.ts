/**
 * Cloudflare Access in front of the admin API (issue 9 "Verified identity on every admin call";
 * operator-surface.md "Cloudflare Access"): every check of the JWT, the key set's cache and cooldown, the
 * cookie fallback, service tokens, half-configured Access, and the role lists.
 */
import { describe, expect, it } from "vitest";
import { ACCESS_CLOCK_TOLERANCE_S } from "../src/admin/access";
import { b64urlJson, newKey, newTeam, type TestTeam } from "./helpers/access";
import { auditOf, expectError } from "./helpers/admin";
import { at, callWith, postHr } from "./helpers/env";
import { uniqueId, waitForRun } from "./helpers/worker";

const ALICE = "alice@acme.example";

/** A request to the admin API as Access forwards it (the JWT in `Cf-Access-Jwt-Assertion`). */
function asAccess(team: TestTeam, jwt: string, path = "/audit?limit=1", init: RequestInit = {}) {
  const headers = new Headers(init.headers);
  headers.set("cf-access-jwt-assertion", jwt);
  return callWith(team.vars, path, { ...init, headers });
}

const now = () => Math.floor(Date.now() / 1000);

describe("an Access JWT is verified before anything else", () => {
  it("a valid token of a listed person is accepted, and the key set is fetched once for many calls", async () => {
    const team = await newTeam({ CONSOLE_VIEWERS: ALICE });
    const jwt = await team.sign({ email: ALICE, sub: "user-1" });
    expect((await asAccess(team, jwt)).status).toBe(200);
    expect((await asAccess(team, jwt)).status).toBe(200);
    expect(await team.fetches()).toBe(1);
  });

  it("refuses an expired token (beyond the clock tolerance) and accepts one just inside it", async () => {
    const team = await newTeam({ CONSOLE_VIEWERS: ALICE });
    const expired = await team.sign({ email: ALICE }, { exp: now() - ACCESS_CLOCK_TOLERANCE_S - 60 });
    await expectError(await asAccess(team, expired), 401, "unauthorized");
    const skewed = await team.sign({ email: ALICE }, { exp: now() - 5 });
    expect((await asAccess(team, skewed)).status).toBe(200);
  });

  it("refuses a token that is not yet valid (nbf in the future)", async () => {
    const team = await newTeam({ CONSOLE_VIEWERS: ALICE });
    const early = await team.sign({ email: ALICE, nbf: now() + ACCESS_CLOCK_TOLERANCE_S + 120 });
    await expectError(await asAccess(team, early), 401, "unauthorized");
  });

  it("refuses a token without exp", async () => {
    const team = await newTeam({ CONSOLE_VIEWERS: ALICE });
    const { SignJWT } = await import("jose");
    const forever = await new SignJWT({ email: ALICE })
      .setProtectedHeader({ alg: "RS256", kid: team.key.kid })
      .setIssuer(team.teamDomain)
      .setAudience(team.aud)
      .sign(team.key.privateKey);
    await expectError(await asAccess(team, forever), 401, "unauthorized");
  });

  it("refuses a token for another Access application (wrong aud)", async () => {
    const team = await newTeam({ CONSOLE_VIEWERS: ALICE });
    const other = await team.sign({ email: ALICE }, { aud: ["aud-of-another-application"] });
    await expectError(await asAccess(team, other), 401, "unauthorized");
    // `aud` is an array that must contain ours: one that also names ours is fine.
    const both = await team.sign({ email: ALICE }, { aud: ["aud-of-another-application", team.aud] });
    expect((await asAccess(team, both)).status).toBe(200);
  });

  it("refuses a token issued by another team domain (wrong iss), even when signed with a served key", async () => {
    const team = await newTeam({ CONSOLE_VIEWERS: ALICE });
    for (const iss of ["https://evil.cloudflareaccess.com", `${team.teamDomain}/`, `http://${team.host}`]) {
      const jwt = await team.sign({ email: ALICE }, { iss });
      await expectError(await asAccess(team, jwt), 401, "unauthorized");
    }
  });

  it("refuses alg none, before fetching any key", async () => {
    const team = await newTeam({ CONSOLE_ADMINS: ALICE });
    const payload = { email: ALICE, iss: team.teamDomain, aud: [team.aud], exp: now() + 300, iat: now() };
    const none = `${b64urlJson({ alg: "none", kid: team.key.kid })}.${b64urlJson(payload)}.`;
    await expectError(await asAccess(team, none), 401, "unauthorized");
    expect(await team.fetches()).toBe(0);
  });

  it("refuses HS256 signed with the public key (algorithm confusion)", async () => {
    const team = await newTeam({ CONSOLE_ADMINS: ALICE });
    const { SignJWT } = await import("jose");
    const payload = { email: ALICE };
    for (const secret of [JSON.stringify(team.key.publicJwk), team.key.publicJwk.n ?? ""]) {
      const forged = await new SignJWT(payload)
        .setProtectedHeader({ alg: "HS256", kid: team.key.kid })
        .setIssuer(team.teamDomain)
        .setAudience(team.aud)
        .setExpirationTime(now() + 300)
        .sign(new TextEncoder().encode(secret));
      await expectError(await asAccess(team, forged), 401, "unauthorized");
    }
  });

  it("refuses a token signed by a key the team domain does not serve, with a valid-looking kid", async () => {
    const team = await newTeam({ CONSOLE_VIEWERS: ALICE });
    const impostor = await newKey(team.key.kid);
    const forged = await team.sign({ email: ALICE }, { key: impostor });
    await expectError(await asAccess(team, forged), 401, "unauthorized");
  });

  it("an unknown kid refetches the key set once (after the cooldown), then answers 401; a rotated key is picked up", async () => {
    const team = await newTeam({ CONSOLE_VIEWERS: ALICE });
    const t0 = Date.now();
    expect((await asAccess(team, await team.sign({ email: ALICE }))).status).toBe(200);
    expect(await team.fetches()).toBe(1);

    // Within the cooldown a forged kid causes no fetch at all.
    const stranger = await newKey();
    const unknown = await team.sign({ email: ALICE }, { key: stranger });
    await expectError(await asAccess(team, unknown), 401, "unauthorized");
    expect(await team.fetches()).toBe(1);

    // After it: exactly one refetch, then 401; a second forged kid right after causes none.
    await at(t0 + 31_000, async () => {
      await expectError(
        await asAccess(team, await team.sign({ email: ALICE }, { key: stranger })),
        401,
        "unauthorized",
      );
      expect(await team.fetches()).toBe(2);
      await expectError(
        await asAccess(team, await team.sign({ email: ALICE }, { key: stranger })),
        401,
        "unauthorized",
      );
      expect(await team.fetches()).toBe(2);
    });

    // Access rotates its key: the new kid is fetched once and accepted.
    const next = await newKey();
    await team.setKeys([team.key, next]);
    await at(t0 + 62_000, async () => {
      expect((await asAccess(team, await team.sign({ email: ALICE }, { key: next }))).status).toBe(200);
      expect(await team.fetches()).toBe(3);
    });
  });

  it("answers 503 unavailable with a clear message when the key set cannot be fetched, and never caches the failure", async () => {
    const team = await newTeam({ CONSOLE_VIEWERS: ALICE });
    await team.fail(true);
    const jwt = await team.sign({ email: ALICE });
    const error = await expectError(await asAccess(team, jwt), 503, "unavailable");
    expect(error.message).toContain(`${team.teamDomain}/cdn-cgi/access/certs`);
    expect(error.message).toContain("try again");
    await team.fail(false);
    expect((await asAccess(team, jwt)).status).toBe(200);
    expect(await team.fetches()).toBe(2);
  });

  it("takes the CF_Authorization cookie when the header is absent, but never when a bad header is present", async () => {
    const team = await newTeam({ CONSOLE_VIEWERS: ALICE });
    const jwt = await team.sign({ email: ALICE });
    const cookie = { cookie: `theme=dark; CF_Authorization=${jwt}` };
    expect((await callWith(team.vars, "/audit?limit=1", { headers: cookie })).status).toBe(200);
    const bad = await callWith(team.vars, "/audit?limit=1", {
      headers: { ...cookie, "cf-access-jwt-assertion": "not-a-jwt" },
    });
    await expectError(bad, 401, "unauthorized");
  });

  it("a request with no credential at all is 401", async () => {
    const team = await newTeam({ CONSOLE_VIEWERS: ALICE });
    await expectError(await callWith(team.vars, "/audit?limit=1"), 401, "unauthorized");
  });

  it("a present but invalid bearer token is refused, never passed over for a valid Access token", async () => {
    const team = await newTeam({ CONSOLE_ADMINS: ALICE });
    const jwt = await team.sign({ email: ALICE });
    for (const authorization of ["Bearer not-the-admin-token", "Bearer kdo_unknown", "Basic YTpi"]) {
      const res = await asAccess(team, jwt, "/audit?limit=1", { headers: { authorization } });
      await expectError(res, 401, "unauthorized");
    }
  });

  it("an Access service token (common_name, empty sub) is a service identity with the role its client id is given", async () => {
    const clientId = "88bf3b6d86161464f6509f7219099e57.access";
    const team = await newTeam({ CONSOLE_ADMINS: clientId.toUpperCase() });
    const jwt = await team.sign({ common_name: clientId, sub: "" });
    const requestId = uniqueId("sa");
    const res = await asAccess(team, jwt, "/holds", {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "x-request-id": requestId,
        "x-audit-actor": "someone-else",
      },
      body: JSON.stringify({ type: "share", id: "1689759841444195991", reason: "service token test" }),
    });
    expect(res.status).toBe(200);
    const [record] = await auditOf(requestId);
    expect(record).toMatchObject({
      type: "admin.holds",
      actor: `service-token:${clientId}`,
      verifiedBy: "access-service-token",
    });
    // Remove the hold again (break-glass), so other tests start without it.
    const del = await callWith({}, "/holds/share/1689759841444195991", {
      method: "DELETE",
      headers: { authorization: "Bearer test-admin-token" },
    });
    expect(del.status).toBe(200);
  });

  it("a token naming neither an e-mail nor a service token is refused", async () => {
    const team = await newTeam({ CONSOLE_VIEWERS: ALICE });
    const jwt = await team.sign({ sub: "user-without-email" });
    await expectError(await asAccess(team, jwt), 401, "unauthorized");
  });
});

describe("Access set up by halves fails closed, for the admin routes only", () => {
  it("ACCESS_TEAM_DOMAIN without ACCESS_AUD: admin routes answer 503 misconfigured, webhooks keep working", async () => {
    const team = await newTeam({ CONSOLE_ADMINS: ALICE });
    const vars = { ...team.vars, ACCESS_AUD: "" };
    const jwt = await team.sign({ email: ALICE }, { aud: [""] });
    const error = await expectError(
      await callWith(vars, "/audit?limit=1", { headers: { "cf-access-jwt-assertion": jwt } }),
      503,
      "misconfigured",
    );
    expect(error.message).not.toContain("ACCESS");
    await expectError(await callWith(vars, "/holds"), 503, "misconfigured");
    expect(await team.fetches()).toBe(0);

    // The HR webhook still verifies and answers as always (an ignored type: no run is started).
    const body = JSON.stringify({ type: "employee.hired", timestamp: new Date().toISOString(), data: {} });
    const hr = await postHr(body, vars, uniqueId("acc"));
    expect(hr.status).toBe(200);
    expect(await hr.json()).toMatchObject({ ignored: true });
    expect((await callWith(vars, "/healthz")).status).toBe(200);
  });

  it("ACCESS_AUD without ACCESS_TEAM_DOMAIN, or a team domain over http, is misconfigured too", async () => {
    await expectError(await callWith({ ACCESS_AUD: "abc" }, "/audit"), 503, "misconfigured");
    const plain = { ACCESS_TEAM_DOMAIN: "http://acme.cloudflareaccess.com", ACCESS_AUD: "abc" };
    await expectError(await callWith(plain, "/audit"), 503, "misconfigured");
    const withPath = { ACCESS_TEAM_DOMAIN: "https://acme.cloudflareaccess.com/x", ACCESS_AUD: "abc" };
    await expectError(await callWith(withPath, "/audit"), 503, "misconfigured");
  });

  it("fails closed for bearer credentials too; only the break-glass admin is told which setting", async () => {
    const half = { ACCESS_TEAM_DOMAIN: "https://acme.cloudflareaccess.com" };
    const admin = await expectError(
      await callWith(half, "/audit?limit=1", { headers: { authorization: "Bearer test-admin-token" } }),
      503,
      "misconfigured",
    );
    expect(admin.message).toContain("ACCESS_AUD");
    const guessed = await expectError(
      await callWith(half, "/audit?limit=1", { headers: { authorization: "Bearer not-the-admin-token" } }),
      503,
      "misconfigured",
    );
    expect(guessed.message).not.toContain("ACCESS");
  });
});

describe("roles from CONSOLE_ADMINS, CONSOLE_OPERATORS, CONSOLE_VIEWERS", () => {
  const RUN = "/runs/run_00000000000000000000000000/retry";

  it("a viewer reads but cannot retry, upload identities, edit holds or tokens; each refusal is audited", async () => {
    const team = await newTeam({ CONSOLE_VIEWERS: "@acme.example" });
    const jwt = await team.sign({ email: "Victor@ACME.example" });
    expect((await asAccess(team, jwt, "/holds")).status).toBe(200);
    const writes: Array<[string, string, string]> = [
      ["POST", RUN, ""],
      ["POST", "/offboardings", JSON.stringify({ person: "dana.leaver@example.com", reason: "left" })],
      [
        "POST",
        "/offboardings",
        JSON.stringify({ person: "dana.leaver@example.com", reason: "x", dryRun: true }),
      ],
      ["PUT", "/identities", "[]"],
      ["POST", "/holds", JSON.stringify({ type: "share", id: "1689759841444195992", reason: "x" })],
      ["POST", "/tokens", JSON.stringify({ name: "ci", role: "viewer" })],
      ["GET", "/tokens", ""],
    ];
    for (const [method, path, body] of writes) {
      const requestId = uniqueId("v");
      const res = await asAccess(team, jwt, path, {
        method,
        headers: { "content-type": "application/json", "x-request-id": requestId },
        ...(body ? { body } : {}),
      });
      const error = await expectError(res, 403, "forbidden");
      expect(error.message).toContain("viewer");
      const [record] = await auditOf(requestId);
      expect(record).toMatchObject({
        type: "admin.denied",
        actor: "victor@acme.example",
        verifiedBy: "cloudflare-access",
      });
    }
  });

  it("an operator may retry but cannot edit holds or tokens", async () => {
    const team = await newTeam({ CONSOLE_OPERATORS: "olga@acme.example" });
    const jwt = await team.sign({ email: "olga@acme.example" });
    // Past the role check: the (unknown) run is a 404, not a 403.
    await expectError(await asAccess(team, jwt, RUN, { method: "POST" }), 404, "not_found");
    // An operator starts an offboarding (a dry run here): recorded as started by their verified e-mail.
    const requestId = uniqueId("op");
    const started = await asAccess(team, jwt, "/offboardings", {
      method: "POST",
      headers: { "content-type": "application/json", "x-request-id": requestId },
      body: JSON.stringify({ person: "nobody.here@acme.example", reason: "role test", dryRun: true }),
    });
    expect(started.status).toBe(202);
    // The run's first (durable) step writes the "request received" record: wait for the run to end.
    await waitForRun(((await started.json()) as { runId: string }).runId);
    const records = await auditOf(requestId);
    expect(records.some((r) => r.actor === "olga@acme.example" && r.verifiedBy === "cloudflare-access")).toBe(
      true,
    );
    const hold = JSON.stringify({ type: "share", id: "1689759841444195993", reason: "x" });
    const json = { "content-type": "application/json" };
    await expectError(
      await asAccess(team, jwt, "/holds", { method: "POST", headers: json, body: hold }),
      403,
      "forbidden",
    );
    await expectError(
      await asAccess(team, jwt, "/holds", {
        method: "PUT",
        headers: { ...json, "if-match": "*" },
        body: '{"holds":[]}',
      }),
      403,
      "forbidden",
    );
    await expectError(
      await asAccess(team, jwt, "/tokens", {
        method: "POST",
        headers: json,
        body: '{"name":"x","role":"viewer"}',
      }),
      403,
      "forbidden",
    );
    await expectError(await asAccess(team, jwt, "/tokens"), 403, "forbidden");
  });

  it("a verified identity with no role gets 403 (not 401) and an admin.denied record", async () => {
    const team = await newTeam({ CONSOLE_ADMINS: ALICE, CONSOLE_VIEWERS: "@acme.example" });
    // A subdomain is not the domain; another person is not alice.
    for (const email of ["mallory@sub.acme.example", "mallory@example.org"]) {
      const requestId = uniqueId("n");
      const jwt = await team.sign({ email });
      const res = await asAccess(team, jwt, "/audit?limit=1", { headers: { "x-request-id": requestId } });
      const error = await expectError(res, 403, "forbidden");
      expect(error.message).toContain("no role");
      const [record] = await auditOf(requestId);
      expect(record).toMatchObject({ type: "admin.denied", actor: email, verifiedBy: "cloudflare-access" });
    }
  });

  it("the highest matching role wins, case-insensitively", async () => {
    const team = await newTeam({
      CONSOLE_VIEWERS: "@ACME.example",
      CONSOLE_ADMINS: " Alice@Acme.Example , bob@x.example",
    });
    const jwt = await team.sign({ email: "ALICE@acme.example" });
    expect((await asAccess(team, jwt, "/tokens")).status).toBe(200);
  });
});
