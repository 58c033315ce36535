import { describe, expect, it } from "vitest";
import { readEvidence } from "../src/offboarding/evidence";
import { type AuditEntry, fakeAuditLog, WINDOW } from "./helpers/audit-log";

/**
 * Review 6, area 5: the evidence read narrowed by `operatorName` still makes at most EVIDENCE_MAX_PAGES calls
 * to KooDrive's audit log (README "Evidence": "at most EVIDENCE_MAX_PAGES pages of 100 entries"; upgrade
 * notes: "default 10 calls at most"). The narrowed pages count: in a layoff, where KooDrive names another
 * operator for the cancels, every run would otherwise read one page more than the setting allows (up to
 * twice as many when the narrowed read is long too), each a background permit inside a 5-minute step.
 */

const crowd = (n: number, operatorName: string): AuditEntry[] =>
  Array.from({ length: n }, (_, i) => ({ resource: `o${i}-${operatorName}`, operatorName }));

describe("review6: the narrowed evidence read stays within EVIDENCE_MAX_PAGES calls", () => {
  it("KooDrive names the app as operator in a crowded window: 3 pages allowed, 3 pages read (not 1 narrowed + 3)", async () => {
    const log = fakeAuditLog(
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
    const log = fakeAuditLog(
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
