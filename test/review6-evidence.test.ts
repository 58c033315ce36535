import { describe, expect, it } from "vitest";
import type { KooDriveClient } from "../src/koodrive/client";
import { readEvidence } from "../src/offboarding/evidence";
import type { AccountDeps } from "../src/offboarding/handover";

/**
 * Review 6, area 5: the evidence read narrowed by `operatorName` still makes at most EVIDENCE_MAX_PAGES calls
 * to KooDrive's audit log (README "Evidence": "at most EVIDENCE_MAX_PAGES pages of 100 entries"; upgrade
 * notes: "default 10 calls at most"). The narrowed pages count: in a layoff, where KooDrive names another
 * operator for the cancels, every run would otherwise read one page more than the setting allows (up to
 * twice as many when the narrowed read is long too), each a background permit inside a 5-minute step.
 */

type Entry = { resource: string; operatorName: string };

/** A fake audit log that filters by operator like KooDrive's `operatorName`, counting every page asked. */
function fakeLog(entries: Entry[], cancelled: string[]) {
  const asked: Array<{ operatorName?: string | undefined; pageNum: number }> = [];
  const client = {
    auditLogPage: async (
      _acting: string,
      q: { pageNum: number; pageSize: number; operatorName?: string | undefined },
    ) => {
      asked.push({ operatorName: q.operatorName, pageNum: q.pageNum });
      const all = entries.filter((e) => !q.operatorName || e.operatorName === q.operatorName);
      const page = all.slice((q.pageNum - 1) * q.pageSize, q.pageNum * q.pageSize);
      return { total: all.length, entries: page.map((e) => ({ resource: e.resource })) };
    },
  } as unknown as KooDriveClient;
  const ledger = {
    cancelledAmong: async (ids: string[]) => ids.filter((id) => cancelled.includes(id)),
  } as unknown as AccountDeps["ledger"];
  return { deps: { client, ledger, acting: "admin" }, asked };
}

const WINDOW = { first: "2026-12-01T03:00:00.000Z", last: "2026-12-01T03:01:00.000Z", cancelled: 2 };
const crowd = (n: number, operatorName: string): Entry[] =>
  Array.from({ length: n }, (_, i) => ({ resource: `o${i}-${operatorName}`, operatorName }));

describe("review6: the narrowed evidence read stays within EVIDENCE_MAX_PAGES calls", () => {
  it("KooDrive names the app as operator in a crowded window: 3 pages allowed, 3 pages read (not 1 narrowed + 3)", async () => {
    const log = fakeLog(
      [
        ...crowd(1_000, "KooDrive App"),
        ...["s1", "s2"].map((r) => ({ resource: r, operatorName: "KooDrive App" })),
      ],
      ["s1", "s2"],
    );
    const e = await readEvidence(log.deps, WINDOW, 3, "Lea Leaver");
    expect(log.asked.length).toBeLessThanOrEqual(3);
    expect(e).toMatchObject({ of: 2, complete: false });
    expect(e.operatorName).toBeUndefined();
  });

  it("a namesake-crowded narrowed read that uses the whole budget leaves no page for the whole window", async () => {
    // 500 entries by other "Lea Leaver"s: the narrowed read alone needs 5 pages (100 each).
    const log = fakeLog(
      [
        ...crowd(500, "Lea Leaver"),
        ...["s1", "s2"].map((r) => ({ resource: r, operatorName: "KooDrive App" })),
      ],
      ["s1", "s2"],
    );
    const e = await readEvidence(log.deps, WINDOW, 5, "Lea Leaver");
    expect(log.asked.length).toBeLessThanOrEqual(5);
    // Nothing found and the read did not cover the window: incomplete, never a false "found".
    expect(e).toMatchObject({ found: 0, of: 2, complete: false });
  });
});
