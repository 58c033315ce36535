import type { AuditStore } from "../audit/store";
import type { KooDriveClient, SharePage } from "../koodrive/client";
import type { HoldsStore } from "./holds";
import type { RunLedger } from "./ledger";
import type { RunMeta, ShareRow } from "./types";

/** What every step of one run works with; built once per Workflow instance. */

export type Subject = RunMeta["request"]["subject"];

/** A share waiting to be cancelled, as the ledger or the planner hands it over. */
export type PendingShare = Pick<ShareRow, "shareId" | "state" | "scope" | "displayName">;

/** What the steps of one run share: its ledger, clients and the audit context. */
export interface RunContext {
  ledger: DurableObjectStub<RunLedger>;
  holds: DurableObjectNamespace<HoldsStore>;
  client: KooDriveClient;
  audit: AuditStore;
  meta: RunMeta;
  subject: Subject;
  userId: string;
  parallelism: number;
  lookahead?: Lookahead;
  /** A watch check's listing (issue 10): the shares it plans are late shares. */
  late?: boolean;
}

/**
 * The page after a step's last one, fetched while that step finishes (its last cancels, its audit writes,
 * the engine saving its result), for the next step to start from. Lives only in memory: a step that runs
 * after a restart simply fetches the page itself.
 */
export interface Lookahead {
  next?: { cursor: string; page: Promise<SharePage>; at: number } | undefined;
}
