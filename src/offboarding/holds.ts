import { DurableObject } from "cloudflare:workers";
import type { Holds } from "./plan";

export interface Hold {
  type: "user" | "share";
  id: string;
  reason: string;
  createdBy: string;
  createdAt: string;
}

/**
 * Holds (user ids or share ids that must never be cancelled, e.g. a legal hold) in one Durable Object, so
 * the check made just before each cancel sees a hold placed a moment earlier. KV could be up to 60 s stale.
 */
export class HoldsStore extends DurableObject<Env> {
  private readonly sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec(`CREATE TABLE IF NOT EXISTS holds (
      type TEXT NOT NULL, id TEXT NOT NULL, reason TEXT NOT NULL, created_by TEXT NOT NULL, created_at TEXT NOT NULL,
      PRIMARY KEY (type, id))`);
  }

  /** Replaces the whole set (PUT semantics); returns what was added and removed. */
  replace(holds: Array<Omit<Hold, "createdAt">>): { added: number; removed: number; total: number } {
    const before = new Set(this.list().map((h) => `${h.type}:${h.id}`));
    const after = new Set(holds.map((h) => `${h.type}:${h.id}`));
    const now = new Date().toISOString();
    this.ctx.storage.transactionSync(() => {
      this.sql.exec("DELETE FROM holds");
      for (const h of holds) {
        this.sql.exec(
          "INSERT OR REPLACE INTO holds (type, id, reason, created_by, created_at) VALUES (?, ?, ?, ?, ?)",
          h.type,
          h.id,
          h.reason,
          h.createdBy,
          now,
        );
      }
    });
    return {
      added: [...after].filter((k) => !before.has(k)).length,
      removed: [...before].filter((k) => !after.has(k)).length,
      total: after.size,
    };
  }

  list(): Hold[] {
    return this.sql
      .exec<{ type: "user" | "share"; id: string; reason: string; created_by: string; created_at: string }>(
        "SELECT * FROM holds ORDER BY type, id",
      )
      .toArray()
      .map((r) => ({
        type: r.type,
        id: r.id,
        reason: r.reason,
        createdBy: r.created_by,
        createdAt: r.created_at,
      }));
  }

  /** The id sets the planner checks. */
  snapshot(): { userIds: string[]; shareIds: string[] } {
    const holds = this.list();
    return {
      userIds: holds.filter((h) => h.type === "user").map((h) => h.id),
      shareIds: holds.filter((h) => h.type === "share").map((h) => h.id),
    };
  }
}

/** Reads the current holds through the singleton stub. */
export async function currentHolds(ns: DurableObjectNamespace<HoldsStore>): Promise<Holds> {
  const snap = await ns.getByName("holds").snapshot();
  return { userIds: new Set(snap.userIds), shareIds: new Set(snap.shareIds) };
}
