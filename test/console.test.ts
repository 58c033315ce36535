/**
 * The admin console (/console, issue 9 section 3) through the Worker's real entry: every page is HTML behind
 * a verified identity, the security headers hold, forms are CSRF-checked, and writes change the same stores
 * and write the same audit records as the admin API, naming the verified actor.
 */
import { env } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import { AuditStore } from "../src/audit/store";
import { Layout, LOCAL_BANNER } from "../src/console/layout";
import { auditOf } from "./helpers/admin";
import { postHr } from "./helpers/env";
import { DEMO, sim } from "./helpers/sim";
import {
  admin,
  call,
  clearHolds,
  offboardedEvent,
  sendHr,
  uniqueId,
  waitForRun,
  waitForStatus,
} from "./helpers/worker";

const ORIGIN = "https://offboard.example.com";
const S1 = "1689759841444195101";
const S2 = "1689759841444195102";
const LEAVER = "1505084218764549950";

/** A console form post as the browser sends it from the console's own page (same Origin). */
async function post(path: string, fields: Record<string, string>, origin = ORIGIN) {
  const requestId = uniqueId("c");
  const res = await admin(path, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", origin, "x-request-id": requestId },
    body: new URLSearchParams(fields).toString(),
    redirect: "manual",
  });
  return { res, requestId };
}

async function page(path: string) {
  const res = await admin(path);
  return { res, html: await res.text() };
}

interface HoldsView {
  version: number;
  holds: Array<{ type: string; id: string; reason: string; createdBy: string }>;
}
const readHolds = async () => (await (await admin("/holds")).json()) as HoldsView;

async function completedRun(name: string, shares: number) {
  await sim.seed({ users: [{ userId: LEAVER, name, shares }], seed: 61 });
  const res = await sendHr(
    offboardedEvent({
      id: `E-${uniqueId()}`,
      koodriveUserId: LEAVER,
      email: "cora.console@example.com",
      name,
    }),
  );
  const { runId } = (await res.json()) as { runId: string };
  const run = await waitForRun(runId);
  expect(run.status).toBe("completed");
  return { runId, run };
}

beforeEach(async () => {
  await sim.reset();
  await clearHolds();
});

describe("console pages", () => {
  const PAGES = ["/console", "/console/inbox", "/console/holds", "/console/identities", "/console/audit"];

  it("answer HTML naming the verified actor and role to the admin token, with the security headers", async () => {
    for (const path of PAGES) {
      const { res, html } = await page(path);
      expect(res.status, path).toBe(200);
      expect(res.headers.get("content-type"), path).toMatch(/^text\/html/);
      expect(html, path).toContain("<strong>break-glass</strong>");
      expect(html, path).toContain("role <strong>admin</strong>");
      expect(html, path).toContain('href="#main"');
      expect(html, path).not.toContain("Local identity");
      const csp = res.headers.get("content-security-policy") ?? "";
      const scriptSrc = /script-src ([^;]*)/.exec(csp)?.[1] ?? "";
      expect(scriptSrc, path).toBe("'self'");
      expect(csp, path).not.toContain("unsafe-inline");
      expect(csp, path).toContain("frame-ancestors 'none'");
      expect(res.headers.get("x-frame-options"), path).toBe("DENY");
      expect(res.headers.get("cache-control"), path).toBe("no-store");
    }
  });

  it("answer 401 as a page without credentials, and say nothing of the data", async () => {
    for (const path of [...PAGES, "/console/runs/hr-0123456789abcdef0123456789abcdef"]) {
      const res = await call(path);
      expect(res.status, path).toBe(401);
      expect(res.headers.get("content-type"), path).toMatch(/^text\/html/);
      const html = await res.text();
      expect(html, path).toContain("Sign-in required");
      expect(html, path).toContain(res.headers.get("x-request-id") ?? "missing");
      expect(html, path).not.toContain("<nav");
      expect(res.headers.get("content-security-policy"), path).toContain("frame-ancestors 'none'");
    }
  });

  it("serves its stylesheet from the bundle under a content-hashed name with a long cache", async () => {
    const { html } = await page("/console");
    const href = /<link rel="stylesheet" href="([^"]+)"/.exec(html)?.[1] ?? "";
    expect(href).toMatch(/^\/console\/assets\/console\.[0-9a-f]{8}\.css$/);
    const css = await call(href);
    expect(css.status).toBe(200);
    expect(css.headers.get("content-type")).toMatch(/^text\/css/);
    expect(css.headers.get("cache-control")).toContain("immutable");
    expect(await css.text()).toContain("@media print");
    expect((await call("/console/assets/console.00000000.css")).status).toBe(404);
  });

  it("renders an unknown run as a 404 page with the request id, never JSON or a stack", async () => {
    const res = await admin("/console/runs/hr-ffffffffffffffffffffffffffffffff", {
      headers: { "x-request-id": "req-console-404" },
    });
    expect(res.status).toBe(404);
    const html = await res.text();
    expect(html).toContain("req-console-404");
    expect(html).not.toMatch(/"error"|at .*\.ts:\d+/);
  });
});

describe("console holds", () => {
  it("refuses a form posted from another origin (CSRF) with 403 and changes nothing", async () => {
    const before = await readHolds();
    const { res, requestId } = await post(
      "/console/holds",
      { type: "share", id: S1, reason: "LH-1", version: String(before.version) },
      "https://evil.example",
    );
    expect(res.status).toBe(403);
    expect(await res.text()).toContain("cross-site");
    expect(await readHolds()).toEqual(before);
    expect(await auditOf(requestId)).toEqual([]);
  });

  it("refuses a write that is not a form (no way around the CSRF check) and changes nothing", async () => {
    const before = await readHolds();
    const res = await admin("/console/holds", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ type: "share", id: S1, reason: "x", version: before.version }),
    });
    expect(res.status).toBe(415);
    expect(await readHolds()).toEqual(before);
  });

  it("adds a hold with the displayed version, stores it as the verified actor and audits it", async () => {
    const { html } = await page("/console/holds");
    const version = /name="version" value="(\d+)"/.exec(html)?.[1] ?? "";
    const { res, requestId } = await post("/console/holds", {
      type: "share",
      id: S1,
      reason: "LH-7",
      version,
    });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/console/holds?notice=added");
    const after = await readHolds();
    expect(after.version).toBe(Number(version) + 1);
    expect(after.holds).toEqual([
      expect.objectContaining({ type: "share", id: S1, reason: "LH-7", createdBy: "break-glass" }),
    ]);
    const [record] = await auditOf(requestId);
    expect(record).toMatchObject({ type: "admin.holds", actor: "break-glass", reason: "holds added" });
    expect(record?.details).toMatchObject({ added: 1, ifMatch: `"${version}"` });
    expect((await page("/console/holds?notice=added")).html).toContain(S1);
  });

  it("refuses an add made on a stale page (412) and stores nothing", async () => {
    const stale = (await readHolds()).version;
    expect(
      (await post("/console/holds", { type: "share", id: S1, reason: "a", version: String(stale) })).res
        .status,
    ).toBe(303);
    const before = await readHolds();
    const { res, requestId } = await post("/console/holds", {
      type: "share",
      id: S2,
      reason: "b",
      version: String(stale),
    });
    expect(res.status).toBe(412);
    expect(await res.text()).toContain("changed since this page was shown");
    expect(await readHolds()).toEqual(before);
    expect(await auditOf(requestId)).toEqual([]);
  });

  it("refuses an oversized form with 413 before reading it, and stores nothing", async () => {
    const before = await readHolds();
    const { res } = await post("/console/holds", {
      type: "share",
      id: S1,
      reason: "x".repeat(20_000),
      version: String(before.version),
    });
    expect(res.status).toBe(413);
    expect(await readHolds()).toEqual(before);
  });

  it("shows each invalid field of an add and stores nothing", async () => {
    const before = await readHolds();
    const { res } = await post("/console/holds", {
      type: "share",
      id: "123",
      reason: "",
      version: String(before.version),
    });
    expect(res.status).toBe(422);
    const html = await res.text();
    expect(html).toContain("must be a 19-digit KooDrive id");
    expect(await readHolds()).toEqual(before);
  });

  it("removes a hold only after the confirmation page, audited as the verified actor", async () => {
    await post("/console/holds", {
      type: "user",
      id: S2,
      reason: "LH-9",
      version: String((await readHolds()).version),
    });
    const { version } = await readHolds();
    const confirm = await page(`/console/holds/user/${S2}/remove?version=${version}`);
    expect(confirm.res.status).toBe(200);
    expect(confirm.html).toContain('name="confirmed" value="yes"');

    // Without the confirmation the post only leads to the confirmation page.
    const unconfirmed = await post(`/console/holds/user/${S2}/remove`, { version: String(version) });
    expect(unconfirmed.res.status).toBe(303);
    expect(unconfirmed.res.headers.get("location")).toBe(
      `/console/holds/user/${S2}/remove?version=${version}`,
    );
    expect((await readHolds()).holds).toHaveLength(1);
    expect(await auditOf(unconfirmed.requestId)).toEqual([]);

    const { res, requestId } = await post(`/console/holds/user/${S2}/remove`, {
      version: String(version),
      confirmed: "yes",
    });
    expect(res.status).toBe(303);
    expect((await readHolds()).holds).toEqual([]);
    const [record] = await auditOf(requestId);
    expect(record).toMatchObject({ type: "admin.holds", actor: "break-glass", reason: "hold removed" });
    expect(record?.details).toMatchObject({ removed: 1 });
  });
});

describe("console identities", () => {
  async function upload(csv: string) {
    const form = new FormData();
    form.set("file", new File([csv], "people.csv", { type: "text/csv" }));
    const requestId = uniqueId("c");
    const res = await admin("/console/identities", {
      method: "POST",
      headers: { origin: ORIGIN, "x-request-id": requestId },
      body: form,
    });
    return { res, requestId, html: await res.text() };
  }
  const lookup = (key: string) => admin(`/identities/${encodeURIComponent(key)}`);

  it("shows the bad row's error and stores nothing when one row is bad", async () => {
    const email = `${uniqueId("ok")}@example.com`;
    const { res, requestId, html } = await upload(
      `email,koodriveUserId,name\n${email},1505084218764540001,Good Row\nbad@example.com,12345,Bad Row\n`,
    );
    expect(res.status).toBe(422);
    expect(html).toContain("nothing was stored");
    expect(html).toMatch(/<strong>row 3\.koodriveUserId<\/strong>: must be a 19-digit KooDrive user id/);
    expect((await lookup(email)).status).toBe(404);
    expect(await auditOf(requestId)).toEqual([]);
  });

  it("stores a good file, audited as the verified actor, and looks a key up", async () => {
    const email = `${uniqueId("ok")}@example.com`;
    const { res, requestId, html } = await upload(`email,koodriveUserId\n${email},1505084218764540002\n`);
    expect(res.status).toBe(200);
    expect(html).toContain("Stored 1 identities");
    expect(await (await lookup(email)).json()).toMatchObject({
      koodriveUserId: "1505084218764540002",
      updatedBy: "break-glass",
    });
    expect(await auditOf(requestId)).toEqual([
      expect.objectContaining({ type: "admin.identities", actor: "break-glass" }),
    ]);
    const found = await page(`/console/identities?key=${encodeURIComponent(email)}`);
    expect(found.res.status).toBe(200);
    expect(found.html).toContain("1505084218764540002");
    const missing = await page("/console/identities?key=nobody%40example.com");
    expect(missing.html).toContain("No identity for that key.");
  });
});

describe("console run pages", () => {
  it("shows a completed run's shares, timeline, exports; its evidence; and the inbox entry that started it", async () => {
    const { runId } = await completedRun("Cora Console", 3);
    const shareIds = (await sim.shares(LEAVER, "cancelled")).map((s) => s.shareId);
    expect(shareIds).toHaveLength(3);

    const detail = await page(`/console/runs/${runId}`);
    expect(detail.res.status).toBe(200);
    for (const id of shareIds) expect(detail.html).toContain(`data-share-id="${id}"`);
    expect(detail.html).toContain("Cora Console");
    expect(detail.html).toContain(`/runs/${runId}/export?format=csv`);
    expect(detail.html).toContain(`/runs/${runId}/export?format=ndjson`);
    expect(detail.html).toMatch(/<ol data-testid="timeline">.*request\.received.*run\.state/s);
    expect(detail.html).not.toContain("run-progress"); // finished: no live progress

    const failedOnly = await page(`/console/runs/${runId}?state=failed`);
    expect(failedOnly.html).toContain("No shares here.");

    const evidence = await page(`/console/runs/${runId}/evidence`);
    expect(evidence.res.status).toBe(200);
    expect(evidence.html).toContain("Standard Webhooks signature");
    expect(evidence.html).toMatch(/Event to verified clean<\/dt><dd>\d+(\.\d)? (s|min)/);
    for (const id of shareIds) expect(evidence.html).toContain(id);

    const inbox = await page("/console/inbox?source=hr&outcome=started");
    expect(inbox.res.status).toBe(200);
    expect(inbox.html).toContain(`started run <a href="/console/runs/${runId}">`);

    const audit = await page("/console/audit?user=cora.console%40example.com");
    expect(audit.html).toContain(`/console/runs/${runId}`);
  });
});

describe("console run actions", () => {
  it("shows KooDrive's reason for each failed share, and retries a partial run only after confirming", async () => {
    const { users } = await sim.seed({
      users: [{ userId: LEAVER, name: "Pat Partial", shares: 6 }],
      seed: 3,
    });
    const stubborn = (users[0]?.shareIds ?? []).slice(0, 2);
    await sim.faults({ rules: [{ endpoint: "cancel", kind: "shareFailure", shareIds: stubborn, rate: 1 }] });
    const res = await sendHr(offboardedEvent({ id: `E-${uniqueId()}`, koodriveUserId: LEAVER }));
    const { runId } = (await res.json()) as { runId: string };
    expect((await waitForRun(runId)).status).toBe("partial");

    const failed = await page(`/console/runs/${runId}?state=failed`);
    for (const id of stubborn)
      expect(failed.html).toMatch(new RegExp(`data-share-id="${id}".*?13000201`, "s"));
    expect(failed.html).toContain(`href="/console/runs/${runId}/retry"`);

    const confirm = await page(`/console/runs/${runId}/retry`);
    expect(confirm.res.status).toBe(200);
    expect(confirm.html).toMatch(/cancel <strong>2<\/strong> failed or still-active/);

    // A post without the confirmation starts nothing.
    await sim.clearFaults();
    const unconfirmed = await post(`/console/runs/${runId}/retry`, {});
    expect(unconfirmed.res.headers.get("location")).toBe(`/console/runs/${runId}/retry`);
    expect((await (await admin(`/runs/${runId}`)).json()) as { attempt: number }).toMatchObject({
      attempt: 1,
    });
    expect(await sim.shares(LEAVER, "active")).toHaveLength(2);

    const { res: ok, requestId } = await post(`/console/runs/${runId}/retry`, { confirmed: "yes" });
    expect(ok.status).toBe(303);
    expect((await waitForRun(runId, 60_000, 2)).status).toBe("completed");
    expect(await sim.shares(LEAVER, "active")).toHaveLength(0);
    expect(await auditOf(requestId)).toEqual([
      expect.objectContaining({ type: "admin.retry", actor: "break-glass" }),
    ]);
  });

  it("confirms a name match only with the candidate's id typed in, as the verified actor", async () => {
    await sim.seed({ demo: true });
    const id = uniqueId();
    const body = JSON.stringify(offboardedEvent({ id: `E-${uniqueId()}`, name: "Dana Leaver" }));
    const res = await postHr(body, { RESOLVE_BY_NAME: "confirm" }, id);
    const { runId } = (await res.json()) as { runId: string };
    await waitForStatus(runId, "awaiting_approval");
    const detail = await page(`/console/runs/${runId}`);
    expect(detail.html).toContain(`action="/console/runs/${runId}/confirm"`);
    expect(detail.html).toContain(DEMO.leaver);
    // Not finished: the live progress bar is there, followed by the bundled script, reloading when done.
    expect(detail.html).toMatch(
      /<section id="run-progress" data-progress-url="[^"]+\/progress\.json" data-reload(="[^"]*")? /,
    );
    expect(detail.html).toMatch(/<script src="\/console\/assets\/console\.[0-9a-f]{8}\.js" defer/);

    const wrong = await post(`/console/runs/${runId}/confirm`, { koodriveUserId: DEMO.seller });
    expect(wrong.res.status).toBe(422);
    expect(await wrong.res.text()).toContain("does not match the candidate");
    expect(await auditOf(wrong.requestId)).toEqual([]);
    expect((await (await admin(`/runs/${runId}`)).json()) as { status: string }).toMatchObject({
      status: "awaiting_approval",
    });

    const { res: ok, requestId } = await post(`/console/runs/${runId}/confirm`, {
      koodriveUserId: DEMO.leaver,
    });
    expect(ok.status).toBe(303);
    expect(await waitForRun(runId)).toMatchObject({ status: "completed", koodriveUserId: DEMO.leaver });
    expect(await sim.shares(DEMO.leaver, "active")).toHaveLength(0);
    expect(await auditOf(requestId)).toEqual([
      expect.objectContaining({
        type: "run.decision",
        actor: "break-glass",
        reason: expect.stringContaining(DEMO.leaver),
      }),
    ]);
  });

  it("answers the progress of a run as JSON for the page's script", async () => {
    const { runId } = await completedRun("Pia Progress", 2);
    const res = await admin(`/console/runs/${runId}/progress.json`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "completed", planned: 2, done: 2, terminal: true });
  });
});

describe("console frame", () => {
  it("marks a local identity (npm start) on every page with a visible banner", async () => {
    const render = async (verifiedBy: "local" | "break-glass") =>
      String(
        await Layout({
          title: "T",
          requestId: "r-1",
          principal: { actor: "local:dev@example.com", role: "admin", verifiedBy },
          children: [],
        }),
      );
    const local = await render("local");
    expect(local).toMatch(/^<!DOCTYPE html><html lang="en">/);
    expect(local).toContain(`<div class="banner-local" role="alert">${LOCAL_BANNER}</div>`);
    expect(await render("break-glass")).not.toContain(LOCAL_BANNER);
  });
});

describe("console lists", () => {
  it("pages a run's shares 100 at a time, keeping the state filter", async () => {
    const { runId } = await completedRun("Paula Pages", 105);
    const first = await page(`/console/runs/${runId}?state=cancelled`);
    const rows = (html: string) => html.match(/data-share-id="/g)?.length ?? 0;
    expect(rows(first.html)).toBe(100);
    const next = /href="([^"]+)" rel="next"/.exec(first.html)?.[1]?.replaceAll("&amp;", "&") ?? "";
    expect(next).toMatch(new RegExp(`^/console/runs/${runId}\\?state=cancelled&cursor=\\d{19}$`));
    const second = await page(next);
    expect(rows(second.html)).toBe(5);
    expect(second.html).not.toContain('rel="next"');
    const all = new Set(
      [...`${first.html}${second.html}`.matchAll(/data-share-id="(\d+)"/g)].map((m) => m[1]),
    );
    expect(all.size).toBe(105);
  });

  it("lists a rejected delivery in the inbox with why, under its filter only", async () => {
    const eventId = `msg_${uniqueId("forged")}`;
    const forged = await sendHr(offboardedEvent({ id: "E-forged" }), {
      id: eventId,
      secret: "whsec_d3Jvbmctc2VjcmV0LXdyb25nLXNlY3JldA==",
    });
    expect(forged.status).toBe(401);
    const rejected = await page("/console/inbox?source=hr&outcome=rejected");
    expect(rejected.html).toMatch(new RegExp(`rejected</span> [^<]*signature[^<]*</td>.*?${eventId}`, "s"));
    const started = await page("/console/inbox?source=hr&outcome=started");
    expect(started.html).not.toContain(eventId);
  });

  it("filters the audit trail by UTC day and refuses a malformed date with a page naming the field", async () => {
    const { runId } = await completedRun("Dora Dates", 1);
    const today = new Date().toISOString().slice(0, 10);
    const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
    expect((await page(`/console/audit?since=${today}&until=${today}`)).html).toContain(runId);
    expect((await page(`/console/audit?since=${tomorrow}`)).html).toContain("No audit records match.");
    const bad = await page("/console/audit?since=30.11.2026");
    expect(bad.res.status).toBe(400);
    expect(bad.html).toContain("<strong>since</strong>: must be a date (YYYY-MM-DD)");
  });
});

describe("console paging of the trail", () => {
  const ids = (html: string) => [...html.matchAll(/data-record-id="([^"]+)"/g)].map((m) => m[1]);
  const nextOf = (html: string) => /href="([^"]+)" rel="next"/.exec(html)?.[1]?.replaceAll("&amp;", "&");

  it("pages the audit trail 50 records at a time without repeating one", async () => {
    for (let i = 0; i < 52; i++)
      await admin("/holds", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          type: "share",
          id: `16897598414441952${String(i).padStart(2, "0")}`,
          reason: `p${i}`,
        }),
      });
    const first = await page("/console/audit");
    expect(ids(first.html)).toHaveLength(50);
    const next = nextOf(first.html) ?? "";
    expect(next).toMatch(/^\/console\/audit\?cursor=/);
    const second = ids((await page(next)).html);
    expect(second.length).toBeGreaterThan(0);
    expect(second.filter((id) => ids(first.html).includes(id))).toEqual([]);
  });

  it("pages the inbox across the trail, filtered, without losing or repeating a request", async () => {
    const sent: string[] = [];
    // More than one audit page (100 records) of matches: the inbox must split them across its pages.
    for (let i = 0; i < 120; i++) {
      const id = uniqueId("inbox");
      sent.push(id);
      const res = await sendHr(
        { type: "employee.updated", timestamp: new Date().toISOString(), data: {} },
        { id },
      );
      expect(res.status).toBe(200);
    }
    const seen: string[] = [];
    let path: string | undefined = "/console/inbox?source=hr&outcome=ignored";
    const perPage: number[] = [];
    for (let pages = 0; path && pages < 10; pages++) {
      const { html } = await page(path);
      const found = [...html.matchAll(/<code>(inbox_[^<]+)<\/code>/g)].map((m) => m[1] ?? "");
      seen.push(...found);
      perPage.push(found.length);
      path = nextOf(html);
    }
    expect([...seen].sort()).toEqual([...sent].sort());
    expect(perPage[0]).toBeGreaterThanOrEqual(50);
    expect(perPage[0]).toBeLessThan(120);
  });
});

describe("a run with more audit records than a page reads", () => {
  it("reads the oldest and newest 100 records of the run, oldest first, and counts the rest", async () => {
    const store = new AuditStore(env.AUDIT);
    const runId = `hr-${"ab".repeat(16)}`;
    const t0 = Date.parse("2026-01-01T00:00:00Z");
    for (let i = 0; i < 230; i += 10)
      await Promise.all(
        Array.from({ length: Math.min(10, 230 - i) }, (_, k) =>
          store.write({
            type: "run.state",
            actor: "workflow",
            runId,
            reason: `r${i + k}`,
            at: new Date(t0 + (i + k) * 1000).toISOString(),
          }),
        ),
      );
    const { records, omitted } = await store.forRunEnds(runId, 100, 100);
    expect(omitted).toBe(30);
    expect(records.map((r) => r.reason)).toEqual([
      ...Array.from({ length: 100 }, (_, i) => `r${i}`),
      ...Array.from({ length: 100 }, (_, i) => `r${i + 130}`),
    ]);
    const small = await store.forRunEnds(runId, 200, 100);
    expect(small).toMatchObject({ omitted: 0 });
    expect(small.records).toHaveLength(230);
  });
});

describe("console output encoding", () => {
  it("shows hostile share and person names as text, never as markup", async () => {
    const hostile = ['<script>alert("x")</script>', '"><img src=x onerror=alert(1)>'];
    await sim.seed({
      users: [{ userId: LEAVER, name: "Mal", shares: hostile.map((displayName) => ({ displayName })) }],
      seed: 8,
    });
    const res = await sendHr(
      offboardedEvent({ id: `E-${uniqueId()}`, koodriveUserId: LEAVER, name: '<b onmouseover="x">Mal</b>' }),
    );
    const { runId } = (await res.json()) as { runId: string };
    expect((await waitForRun(runId)).status).toBe("completed");
    for (const path of [
      `/console/runs/${runId}`,
      `/console/runs/${runId}/evidence`,
      "/console/inbox",
      "/console/audit",
    ]) {
      const { html } = await page(path);
      expect(html, path).not.toContain("<script>alert");
      expect(html, path).not.toContain("<img src=x");
      expect(html, path).not.toContain("<b onmouseover");
    }
    const { html } = await page(`/console/runs/${runId}`);
    expect(html).toContain("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;");
    expect(html).toContain("&lt;b onmouseover=&quot;x&quot;&gt;Mal&lt;/b&gt;");
  });
});
