import { describe, expect, it } from "vitest";
import type { KooDriveClient } from "../../src/koodrive/client";
import { readEvidence } from "../../src/offboarding/evidence";
import { type AuditEntry, fakeAuditLog, WINDOW } from "../helpers/audit-log";

/**
 * The evidence read's narrowing (src/offboarding/evidence.ts) against a fake audit log: the leaver as
 * operator first, the whole window only when that did not find every cancel; a match is always by resource.
 */

const others = (n: number): AuditEntry[] =>
  Array.from({ length: n }, (_, i) => ({ resource: `o${i}`, operatorName: "Otto Other" }));

describe("readEvidence", () => {
  it("narrowed to the leaver, finds every cancel in one page however crowded the window", async () => {
    const log = fakeAuditLog(
      [...others(1_500), ...["s1", "s2"].map((r) => ({ resource: r, operatorName: "Lea Leaver" }))],
      ["s1", "s2"],
    );
    const e = await readEvidence(log.deps, WINDOW, 10, "Lea Leaver");
    expect(e).toMatchObject({ found: 2, of: 2, complete: true, entriesRead: 2, operatorName: "Lea Leaver" });
    expect(log.asked).toEqual([{ operatorName: "Lea Leaver", pageNum: 1 }]);
  });

  it("when KooDrive names another operator, reads the whole window as before (and says nothing of a narrowing)", async () => {
    const log = fakeAuditLog(
      ["s1", "s2"].map((r) => ({ resource: r, operatorName: "KooDrive App" })),
      ["s1", "s2"],
    );
    const e = await readEvidence(log.deps, WINDOW, 10, "Lea Leaver");
    expect(e).toMatchObject({ found: 2, of: 2, complete: true });
    expect(e.operatorName).toBeUndefined();
    expect(log.asked).toEqual([
      { operatorName: "Lea Leaver", pageNum: 1 },
      { operatorName: undefined, pageNum: 1 },
    ]);
  });

  it("a narrowed entry counts only if its resource is one of the run's cancelled shares (a namesake's do not)", async () => {
    const log = fakeAuditLog(
      [
        { resource: "namesake-share", operatorName: "Lea Leaver" },
        { resource: "s1", operatorName: "Lea Leaver" },
      ],
      ["s1", "s2"],
    );
    const e = await readEvidence(log.deps, WINDOW, 10, "Lea Leaver");
    // s2 has no entry: 1 of 2, after the whole window was read too.
    expect(e).toMatchObject({ found: 1, of: 2, complete: true });
    expect(log.asked.map((a) => a.operatorName)).toEqual(["Lea Leaver", undefined]);
  });

  it("without a name (a run resolved before 0.6.0), reads the whole window: a crowded one is incomplete", async () => {
    const log = fakeAuditLog(
      [...others(1_500), ...["s1", "s2"].map((r) => ({ resource: r, operatorName: "Lea Leaver" }))],
      ["s1", "s2"],
    );
    const e = await readEvidence(log.deps, WINDOW, 10);
    expect(e).toMatchObject({ found: 0, of: 2, complete: false, entriesRead: 1_000 });
  });

  it("asks for no page after its deadline: a slow read ends incomplete with what it found, not past its step's timeout", async () => {
    const log = fakeAuditLog(
      [...others(1_500), ...["s1", "s2"].map((r) => ({ resource: r, operatorName: "Lea Leaver" }))],
      ["s1", "s2"],
    );
    const slow = {
      ...log.deps,
      client: {
        auditLogPage: async (...args: Parameters<KooDriveClient["auditLogPage"]>) => {
          await new Promise((r) => setTimeout(r, 30)); // each page takes 30 ms
          return log.deps.client.auditLogPage(...args);
        },
      } as unknown as KooDriveClient,
    };
    const e = await readEvidence(slow, WINDOW, 10, undefined, Date.now() + 75);
    expect(e).toMatchObject({ found: 0, of: 2, complete: false });
    expect(log.asked.length).toBeGreaterThanOrEqual(2);
    expect(log.asked.length).toBeLessThanOrEqual(4); // not the 10 the page budget allows
  });
});
