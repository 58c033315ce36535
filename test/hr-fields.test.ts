import { beforeEach, describe, expect, it } from "vitest";
import { EMAIL_PATTERN, looksLikeEmail } from "../src/audit/schema";
import { DEMO, sim } from "./helpers/sim";
import { admin, clearHolds, offboardedEvent, sendHr, uniqueId, waitForRun } from "./helpers/worker";

const DAY_MS = 86_400_000;
const IDN = "jörg@exämple.de";

interface Invalid {
  error: { code: string; message: string; details: Array<{ path: string; message: string }> };
}

beforeEach(async () => {
  await sim.reset();
  await sim.seed({ demo: true });
  await clearHolds();
});

async function runOf(res: Response): Promise<string> {
  expect(res.status).toBe(202);
  return ((await res.json()) as { runId: string }).runId;
}

describe("HR effectiveAt", () => {
  it("refuses a last day more than 365 days ahead with 422 naming the field, and starts nothing", async () => {
    const hrId = uniqueId("E-far");
    const far = new Date(Date.now() + 366 * DAY_MS).toISOString();
    const refused = await sendHr(
      { ...offboardedEvent({ id: hrId }), data: { employee: { id: hrId }, effectiveAt: far } },
      { id: uniqueId() },
    );
    expect(refused.status).toBe(422);
    const body = (await refused.json()) as Invalid;
    expect(body.error.code).toBe("invalid_body");
    expect(body.error.details).toEqual([
      { path: "data.effectiveAt", message: expect.stringMatching(/at most 365 days ahead/) },
    ]);
    // Nothing was recorded for the refused event.
    const audit = (await (await admin(`/audit?user=${hrId}&limit=10`)).json()) as { records: unknown[] };
    expect(audit.records).toEqual([]);
  });

  it("accepts a last day 364 days ahead", async () => {
    const hrId = uniqueId("E-near");
    const near = new Date(Date.now() + 364 * DAY_MS).toISOString();
    const runId = await runOf(
      await sendHr(
        {
          ...offboardedEvent({ id: hrId }),
          data: { employee: { id: hrId, koodriveUserId: DEMO.leaver }, effectiveAt: near },
          options: { dryRun: true },
        },
        { id: uniqueId() },
      ),
    );
    expect((await waitForRun(runId)).status).toBe("dry_run");
  });
});

describe("internationalised e-mail addresses", () => {
  it("an HR event for jörg@exämple.de is accepted, keeps the address, and resolves through the identity map", async () => {
    const put = await admin("/identities", {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ identities: [{ email: IDN, koodriveUserId: DEMO.leaver, name: "Jörg" }] }),
    });
    expect(put.status).toBe(200);
    const hrId = uniqueId("E-idn");
    const runId = await runOf(
      await sendHr(
        { ...offboardedEvent({ id: hrId, email: IDN }), options: { dryRun: true } },
        { id: uniqueId() },
      ),
    );
    const run = await waitForRun(runId);
    expect(run.status).toBe("dry_run");
    expect(run.koodriveUserId).toBe(DEMO.leaver);
    const view = (await (await admin(`/runs/${runId}`)).json()) as { subject: { email?: string } };
    expect(view.subject.email).toBe(IDN);
  });

  it("still refuses what is not an address", async () => {
    for (const bad of ["<script>@example.com", "jörg@exämple", "a b@example.com", "jörg..x@example.de"]) {
      const res = await sendHr(offboardedEvent({ id: uniqueId("E-bad"), email: bad }), { id: uniqueId() });
      expect(res.status, bad).toBe(422);
      const body = (await res.json()) as Invalid;
      expect(body.error.details.map((d) => d.path)).toEqual(["data.employee.email"]);
    }
  });

  it("uses one rule for every source (looksLikeEmail) and every e-mail field", () => {
    const good = [
      "dana.leaver@example.com",
      "first+tag@sub.example.co.uk",
      IDN,
      "用户@例子.广告",
      "josé.garcía@xn--exmple-cua.de",
      "o'brien@example.ie",
      IDN.normalize("NFD"), // ö as o + a combining mark
    ];
    const bad = [
      "",
      "plain",
      "@example.com",
      "dana@",
      "dana@example",
      "dana@example.c",
      "dana@-example.com",
      "dana@example-.com",
      ".dana@example.com",
      "dana.@example.com",
      "da..na@example.com",
      "dana leaver@example.com",
      '"dana"@example.com',
      "dana@[192.0.2.1]",
      "<dana>@example.com",
      "dana@exa mple.com",
      `${"x".repeat(65)}@example.com`,
      `dana@${"a".repeat(64)}.com`,
    ];
    for (const v of good) expect(looksLikeEmail(v), v).toBe(true);
    for (const v of bad) expect(looksLikeEmail(v), v).toBe(false);
    expect(
      looksLikeEmail(
        `${"x".repeat(60)}@${"d".repeat(60)}.${"e".repeat(60)}.${"f".repeat(60)}.${"g".repeat(60)}.com`,
      ),
    ).toBe(true);
    expect(looksLikeEmail(`x@${"d.".repeat(160)}com`)).toBe(false); // longer than 320
    // Linear on hostile input (no catastrophic backtracking).
    const started = Date.now();
    EMAIL_PATTERN.test(`${"a".repeat(64)}@${"b-".repeat(5000)}!`);
    expect(Date.now() - started).toBeLessThan(500);
  });
});
