/**
 * The console's runs list (issue 9 section 3 "Runs") through the Worker's real entry: filters by status,
 * source, person and day, counts per status as chips, paging with the runs index's cursor (no run lost or
 * repeated), and a live progress element for runs in flight.
 */
import { describe, expect, it } from "vitest";
import { RunShares } from "../src/console/pages/runs";
import { adminCall } from "./helpers/admin";
import { admin, offboardedEvent, sendHr, uniqueId, waitForRun } from "./helpers/worker";

const rowsOf = (html: string) =>
  [...html.matchAll(/<tr data-run-id="([a-z]+-[0-9a-f]{32})"/g)].map((m) => m[1]);
const nextOf = (html: string) => /<a href="([^"]+)" rel="next">/.exec(html)?.[1]?.replaceAll("&amp;", "&");
const page = async (path: string) => {
  const res = await admin(path);
  expect(res.status, path).toBe(200);
  return res.text();
};

async function apiDryRun(email: string) {
  const { res } = await adminCall("/offboardings", {
    method: "POST",
    body: { person: email, dryRun: true, reason: "runs page test" },
  });
  expect(res.status).toBe(202);
  const { runId } = (await res.json()) as { runId: string };
  await waitForRun(runId);
  return runId;
}

describe("console runs list", () => {
  it("filters by source, status, person and day, with counts per status, and pages without loss", async () => {
    const email = `${uniqueId("runs")}@nowhere.example`.toLowerCase();
    const api = [await apiDryRun(email), await apiDryRun(email), await apiDryRun(email)];
    const hr = await sendHr(offboardedEvent({ id: `E-${uniqueId()}`, email, name: "Rhea Runs" }));
    const { runId: hrRun } = (await hr.json()) as { runId: string };
    await waitForRun(hrRun);
    const all = [...api, hrRun];
    const q = encodeURIComponent(email);

    const every = await page(`/console/runs?person=${q}`);
    expect(new Set(rowsOf(every))).toEqual(new Set(all));
    expect(every).toContain("Rhea Runs");
    // Every one ends unresolved (no identity for that e-mail): the chips count them.
    const chip = /data-status="unresolved"[\s\S]*?<span class="count">(\d+)<\/span>/.exec(every)?.[1];
    expect(Number(chip)).toBe(4);
    expect(every).toContain(`href="/console/runs?person=${q}&amp;status=unresolved"`);

    expect(new Set(rowsOf(await page(`/console/runs?person=${q}&source=api`)))).toEqual(new Set(api));
    expect(rowsOf(await page(`/console/runs?person=${q}&source=hr`))).toEqual([hrRun]);
    expect(rowsOf(await page(`/console/runs?person=${q}&status=completed`))).toEqual([]);
    expect(rowsOf(await page(`/console/runs?person=${q}&status=unresolved`))).toHaveLength(4);

    const today = new Date().toISOString().slice(0, 10);
    const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
    const yesterday = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
    expect(rowsOf(await page(`/console/runs?person=${q}&since=${today}&until=${today}`))).toHaveLength(4);
    expect(rowsOf(await page(`/console/runs?person=${q}&since=${tomorrow}`))).toEqual([]);
    expect(rowsOf(await page(`/console/runs?person=${q}&until=${yesterday}`))).toEqual([]);

    // Newest first, two per page, following the "next" links: every run once.
    const first = await page(`/console/runs?person=${q}&limit=2`);
    expect(rowsOf(first)).toEqual(rowsOf(every).slice(0, 2));
    const second = await page(nextOf(first) ?? "missing");
    expect(rowsOf(second)).toEqual(rowsOf(every).slice(2, 4));
    expect(nextOf(second)).toBeUndefined();
    expect(second).toContain(`href="/console/runs?person=${q}&amp;limit=2">First page`);
  });

  it("refuses bad filters with a 400 page naming the field, and opens a run typed by id", async () => {
    const bad = await admin("/console/runs?since=yesterday");
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain("since");
    const unknown = await admin("/console/runs?status=sideways");
    expect(unknown.status).toBe(400);
    const open = await admin("/console/runs?runId=hr-0123456789abcdef0123456789abcdef", {
      redirect: "manual",
    });
    expect(open.status).toBe(303);
    expect(open.headers.get("location")).toBe("/console/runs/hr-0123456789abcdef0123456789abcdef");
  });

  it("shows a run in flight as a progress bar the bundled script follows; a finished one as its outcome", () => {
    const base = {
      runId: "hr-0123456789abcdef0123456789abcdef",
      source: "hr" as const,
      eventId: "e",
      dryRun: false,
      subject: { hrId: "h" },
      createdAt: new Date().toISOString(),
      updatedAt: new Date().toISOString(),
      finishedAt: null,
      counts: { planned: 10, cancelled: 3, failed: 1 },
    };
    const running = String(RunShares({ run: { ...base, status: "running" } }));
    expect(running).toContain(
      'data-progress-url="/console/runs/hr-0123456789abcdef0123456789abcdef/progress.json"',
    );
    expect(running).toMatch(/<progress value="4" max="10"/);
    const done = String(RunShares({ run: { ...base, status: "partial" } }));
    expect(done).not.toContain("data-progress-url");
    expect(done).toContain("3 of 10 cancelled, 1 failed");
  });
});
