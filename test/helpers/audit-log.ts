import type { KooDriveClient } from "../../src/koodrive/client";
import type { AccountDeps } from "../../src/offboarding/handover";

/** One entry of a fake KooDrive audit log: the resource (a share id) and its operator's name. */
export type AuditEntry = { resource: string; operatorName: string };

/** A run's cancels' time window for `readEvidence`. */
export const WINDOW = { first: "2026-12-01T03:00:00.000Z", last: "2026-12-01T03:01:00.000Z", cancelled: 2 };

/**
 * A fake audit log for `readEvidence` (src/offboarding/evidence.ts): filters by operator like KooDrive's
 * `operatorName`, pages like `POST /auditlog`, and counts every page asked; the ledger knows `cancelled`.
 */
export function fakeAuditLog(entries: AuditEntry[], cancelled: string[]) {
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
