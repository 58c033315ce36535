import { DurableObject } from "cloudflare:workers";
import type { Holds } from "./plan";

/** How many holds one tenant may keep (the planner loads them all before each cancel batch). */
export const MAX_HOLDS = 10_000;

export interface Hold {
  type: "user" | "share";
  id: string;
  reason: string;
  createdBy: string;
  createdAt: string;
}

export type NewHold = Omit<Hold, "createdAt">;

/** `user:<id>` or `share:<id>`: how a hold is named in answers and audit records. */
export const holdKey = (h: Pick<Hold, "type" | "id">) => `${h.type}:${h.id}`;

/**
 * An `If-Match` precondition: `*` (any version) or the versions the caller accepts. Absent (`undefined`)
 * means unconditional, for the per-hold calls that touch only the holds they name.
 */
export type Precondition = "*" | number[] | undefined;

/** What a change did, in the same transaction that bumped the version. */
export interface HoldsChanged {
  ok: true;
  version: number;
  added: Hold[];
  removed: Hold[];
  /** Holds kept whose reason changed, with the reason before. */
  updated: Array<Hold & { previousReason: string }>;
  total: number;
}

/** Why a change was refused: a stale precondition, too many holds, or (remove) no such hold. */
export type HoldsRefused = { ok: false; refused: "stale" | "full" | "absent"; version: number };

type HoldRow = {
  type: "user" | "share";
  id: string;
  reason: string;
  created_by: string;
  created_at: string;
};

const toHold = (r: HoldRow): Hold => ({
  type: r.type,
  id: r.id,
  reason: r.reason,
  createdBy: r.created_by,
  createdAt: r.created_at,
});

/**
 * Holds (user ids or share ids that must never be cancelled, e.g. a legal hold) in one Durable Object, so
 * the check made just before each cancel sees a hold placed a moment earlier. KV could be up to 60 s stale.
 *
 * Every change bumps a version in the same transaction (an optimistic lock): `PUT /holds` must name the
 * version it read (`If-Match`), so two admins editing the list at once cannot silently drop each other's
 * holds. The methods are synchronous, so each runs alone in the object (no interleaving between the
 * check and the write).
 */
export class HoldsStore extends DurableObject<Env> {
  private readonly sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec(`CREATE TABLE IF NOT EXISTS holds (
      type TEXT NOT NULL, id TEXT NOT NULL, reason TEXT NOT NULL, created_by TEXT NOT NULL, created_at TEXT NOT NULL,
      PRIMARY KEY (type, id))`);
    // Added with the version: a store created before it starts at version 0.
    this.sql.exec("CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v INTEGER NOT NULL)");
    this.sql.exec("INSERT OR IGNORE INTO meta (k, v) VALUES ('version', 0)");
  }

  /** The current version (0 for a store never changed). */
  version(): number {
    return this.sql.exec<{ v: number }>("SELECT v FROM meta WHERE k = 'version'").one().v;
  }

  /** The holds and their version, read together. */
  read(): { version: number; holds: Hold[] } {
    return { version: this.version(), holds: this.list() };
  }

  /** Replaces the whole set (PUT semantics) if the precondition holds; holds kept keep their creator. */
  replace(holds: NewHold[], precondition: Precondition): HoldsChanged | HoldsRefused {
    const stale = this.check(precondition);
    if (stale) return stale;
    const wanted = new Map(holds.map((h) => [holdKey(h), h]));
    const removed = this.list().filter((h) => !wanted.has(holdKey(h)));
    return this.change(holds, removed);
  }

  /** Adds or updates holds (an existing type+id gets the new reason); at most {@link MAX_HOLDS} in all. */
  add(holds: NewHold[], precondition: Precondition): HoldsChanged | HoldsRefused {
    const stale = this.check(precondition);
    if (stale) return stale;
    const current = new Set(this.list().map(holdKey));
    const fresh = new Set(holds.map(holdKey).filter((k) => !current.has(k)));
    if (current.size + fresh.size > MAX_HOLDS) return { ok: false, refused: "full", version: this.version() };
    return this.change(holds, []);
  }

  /** Removes one hold. */
  remove(type: Hold["type"], id: string, precondition: Precondition): HoldsChanged | HoldsRefused {
    const stale = this.check(precondition);
    if (stale) return stale;
    const hold = this.find(type, id);
    if (!hold) return { ok: false, refused: "absent", version: this.version() };
    return this.change([], [hold]);
  }

  list(): Hold[] {
    return this.sql.exec<HoldRow>("SELECT * FROM holds ORDER BY type, id").toArray().map(toHold);
  }

  /** The id sets the planner checks. */
  snapshot(): { userIds: string[]; shareIds: string[] } {
    const holds = this.list();
    return {
      userIds: holds.filter((h) => h.type === "user").map((h) => h.id),
      shareIds: holds.filter((h) => h.type === "share").map((h) => h.id),
    };
  }

  private find(type: Hold["type"], id: string): Hold | undefined {
    const row = this.sql
      .exec<HoldRow>("SELECT * FROM holds WHERE type = ? AND id = ?", type, id)
      .toArray()[0];
    return row ? toHold(row) : undefined;
  }

  /** A refusal when the caller's `If-Match` names no current version (RFC 9110 section 13.1.1). */
  private check(precondition: Precondition): HoldsRefused | undefined {
    if (precondition === undefined || precondition === "*") return undefined;
    const version = this.version();
    return precondition.includes(version) ? undefined : { ok: false, refused: "stale", version };
  }

  /**
   * Upserts `upserts` and deletes `removed` in one transaction with the version bump. Nothing changed
   * (the same list saved twice) keeps the version, so a retried save with the same `If-Match` succeeds.
   */
  private change(upserts: NewHold[], removed: Hold[]): HoldsChanged {
    const now = new Date().toISOString();
    const added: Hold[] = [];
    const updated: HoldsChanged["updated"] = [];
    this.ctx.storage.transactionSync(() => {
      for (const h of removed) this.sql.exec("DELETE FROM holds WHERE type = ? AND id = ?", h.type, h.id);
      for (const h of upserts) {
        const before = this.find(h.type, h.id);
        if (!before) {
          this.sql.exec(
            "INSERT INTO holds (type, id, reason, created_by, created_at) VALUES (?, ?, ?, ?, ?)",
            h.type,
            h.id,
            h.reason,
            h.createdBy,
            now,
          );
          added.push({ ...h, createdAt: now });
        } else if (before.reason !== h.reason) {
          this.sql.exec("UPDATE holds SET reason = ? WHERE type = ? AND id = ?", h.reason, h.type, h.id);
          updated.push({ ...before, reason: h.reason, previousReason: before.reason });
        }
      }
      if (added.length + updated.length + removed.length > 0)
        this.sql.exec("UPDATE meta SET v = v + 1 WHERE k = 'version'");
    });
    const total = this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM holds").one().n;
    return { ok: true, version: this.version(), added, removed, updated, total };
  }
}

/** Reads the current holds through the singleton stub. */
export async function currentHolds(ns: DurableObjectNamespace<HoldsStore>): Promise<Holds> {
  const snap = await ns.getByName("holds").snapshot();
  return { userIds: new Set(snap.userIds), shareIds: new Set(snap.shareIds) };
}
