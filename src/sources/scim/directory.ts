import { DurableObject } from "cloudflare:workers";
import { type Bindings, loadConfig } from "../../env";
import { auditStore } from "../../services";
import { startDeprovisioning } from "./deprovision";
import { ScimError } from "./errors";
import type { ScimFilter } from "./filter";
import { applyPatch } from "./patch";
import type { PatchOperation, ScimFailure, ScimUser, ScimWrite, UserAttributes } from "./schema";

function refusal(err: unknown): ScimFailure {
  if (err instanceof ScimError) {
    return {
      error: { code: err.code, message: err.message, ...(err.scimType ? { scimType: err.scimType } : {}) },
    };
  }
  throw err;
}

interface Row {
  id: string;
  attributes: string;
  created: string;
  last_modified: string;
  version: number;
  deactivations: number;
  runs_started: number;
  deleting: number;
  [key: string]: SqlStorageValue;
}

/** A user's stored attributes are capped (repeated `add`s must not grow a row toward SQLite's limit). */
export const MAX_USER_BYTES = 128 * 1024;

function tooLarge(attributes: UserAttributes): void {
  if (JSON.stringify(attributes).length > MAX_USER_BYTES) {
    throw new ScimError(
      "bad_request",
      `a user's attributes are limited to ${MAX_USER_BYTES} bytes`,
      "invalidValue",
    );
  }
}

/** How soon the directory itself starts a deprovisioning run the request that caused it did not confirm. */
export const RECOVERY_DELAY_MS = 60_000;

const toUser = (r: Row): ScimUser => ({
  id: r.id,
  attributes: JSON.parse(r.attributes) as UserAttributes,
  created: r.created,
  lastModified: r.last_modified,
  version: r.version,
  deactivations: r.deactivations,
});

/**
 * The SCIM user directory in one Durable Object (SQLite): strongly consistent, so `userName` uniqueness
 * holds under concurrent creates and a PATCH reads and writes a user in one step (no lost update). A
 * deactivation is counted in the same write, so the run it starts has a stable key however often the IdP
 * repeats the request.
 */
export class ScimDirectory extends DurableObject<Env> {
  private readonly sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec(`
      CREATE TABLE IF NOT EXISTS users (
        id TEXT PRIMARY KEY,
        user_name TEXT NOT NULL UNIQUE COLLATE NOCASE,
        external_id TEXT,
        attributes TEXT NOT NULL,
        created TEXT NOT NULL,
        last_modified TEXT NOT NULL,
        version INTEGER NOT NULL,
        deactivations INTEGER NOT NULL DEFAULT 0,
        runs_started INTEGER NOT NULL DEFAULT 0,
        deleting INTEGER NOT NULL DEFAULT 0
      );
      CREATE INDEX IF NOT EXISTS users_by_external_id ON users (external_id);
    `);
  }

  private row(id: string): Row | undefined {
    // A user being deleted is gone for every request (the alarm finishes the delete).
    return this.sql.exec<Row>("SELECT * FROM users WHERE id = ? AND deleting = 0", id).toArray()[0];
  }

  private taken(userName: string, exceptId: string | null): boolean {
    return (
      this.sql.exec("SELECT 1 FROM users WHERE user_name = ? AND id IS NOT ?", userName, exceptId).toArray()
        .length > 0
    );
  }

  get(id: string): ScimUser | null {
    const r = this.row(id);
    return r ? toUser(r) : null;
  }

  /** `attr eq "value"` for userName (case-insensitive), externalId or id; or everyone, paged. */
  find(filter: ScimFilter | null, startIndex: number, count: number): { total: number; users: ScimUser[] } {
    const column = filter
      ? { userName: "user_name", externalId: "external_id", id: "id" }[filter.attr]
      : null;
    const where = column ? `WHERE deleting = 0 AND ${column} = ?` : "WHERE deleting = 0";
    const args = filter ? [filter.value] : [];
    const total = this.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM users ${where}`, ...args).one().n;
    const rows = this.sql
      .exec<Row>(
        `SELECT * FROM users ${where} ORDER BY created, id LIMIT ? OFFSET ?`,
        ...args,
        count,
        startIndex - 1,
      )
      .toArray();
    return { total, users: rows.map(toUser) };
  }

  create(attributes: UserAttributes): ScimUser | ScimFailure {
    try {
      tooLarge(attributes);
    } catch (err) {
      return refusal(err);
    }
    if (this.taken(attributes.userName, null)) {
      return refusal(
        new ScimError(
          "conflict",
          `userName ${attributes.userName.slice(0, 100)} already exists`,
          "uniqueness",
        ),
      );
    }
    const now = new Date().toISOString();
    const id = crypto.randomUUID();
    this.sql.exec(
      `INSERT INTO users (id, user_name, external_id, attributes, created, last_modified, version, deactivations)
       VALUES (?, ?, ?, ?, ?, ?, 1, 0)`,
      id,
      attributes.userName,
      typeof attributes.externalId === "string" ? attributes.externalId : null,
      JSON.stringify(attributes),
      now,
      now,
    );
    return this.get(id) as ScimUser;
  }

  /** PUT: replaces the user's attributes; without `active` in the request, the current value stays. */
  replace(id: string, attributes: UserAttributes, activeGiven = true): ScimWrite | ScimFailure {
    return this.write(id, (current) =>
      activeGiven ? attributes : { ...attributes, active: current.active },
    );
  }

  /** PATCH: applies the operations to the stored user, in this one call. */
  patch(id: string, ops: PatchOperation[]): ScimWrite | ScimFailure {
    return this.write(id, (current) => applyPatch(current, ops));
  }

  /**
   * DELETE, first half: a delete of an active user is a deprovisioning too. Counts it and returns the run key;
   * the user is removed by `remove` once the run is started, so a retried DELETE cannot lose the run.
   */
  prepareDelete(id: string): ScimWrite | ScimFailure {
    const result = this.write(id, (current) => ({ ...current, active: false }));
    if (!("error" in result)) {
      this.sql.exec("UPDATE users SET deleting = 1 WHERE id = ?", id);
      this.scheduleRecovery(); // removes the user even if the DELETE's request dies before `remove`
    }
    return result;
  }

  /** DELETE, second half: removes the user once the run of its last deactivation is started. */
  remove(id: string): boolean {
    return (
      this.sql.exec("DELETE FROM users WHERE id = ? AND runs_started >= deactivations", id).rowsWritten > 0
    );
  }

  /** The run of the user's `n`-th deactivation is started: the recovery alarm need not start it. */
  runStarted(id: string, n: number): void {
    this.sql.exec("UPDATE users SET runs_started = max(runs_started, ?) WHERE id = ?", n, id);
  }

  /**
   * Sets the recovery alarm in the same (synchronous) turn as the write it covers, so both are committed
   * before the caller hears back (the Durable Object's output gate).
   */
  private scheduleRecovery(): void {
    const at = Date.now() + RECOVERY_DELAY_MS;
    // An earlier alarm still to come covers this write too: never push recovery back.
    if (this.alarmAt !== undefined && this.alarmAt > Date.now() && this.alarmAt <= at) return;
    this.alarmAt = at;
    void this.ctx.storage.setAlarm(at);
  }

  /** When the recovery alarm set by this instance fires (in memory: only to avoid pushing it back). */
  private alarmAt: number | undefined;

  /**
   * Recovery: starts every deprovisioning run whose request did not confirm it (the Worker died between the
   * directory's write and the run's start), and finishes DELETEs cut short. Retried every minute until done.
   */
  override async alarm(): Promise<void> {
    // Re-armed first: whatever happens below (a bad configuration, KV down, a crash), it comes back.
    this.alarmAt = Date.now() + RECOVERY_DELAY_MS;
    await this.ctx.storage.setAlarm(this.alarmAt);
    const env = this.env as unknown as Bindings;
    const rows = this.sql
      .exec<Row>("SELECT * FROM users WHERE deactivations > runs_started OR deleting = 1")
      .toArray();
    for (const row of rows) {
      const user = toUser(row);
      try {
        if (row.deactivations > row.runs_started) {
          const audit = auditStore(env.AUDIT, loadConfig(env));
          await startDeprovisioning(
            env,
            audit,
            user,
            row.deactivations,
            "deprovisioning (recovered)",
            "scim-recovery",
          );
          this.runStarted(user.id, row.deactivations);
        }
        if (row.deleting === 1) this.remove(user.id);
      } catch (err) {
        console.error(
          JSON.stringify({ level: "error", msg: "scim recovery", userId: user.id, error: String(err) }),
        );
      }
    }
    const pending = this.sql
      .exec("SELECT 1 FROM users WHERE deactivations > runs_started OR deleting = 1 LIMIT 1")
      .toArray().length;
    if (pending === 0) {
      this.alarmAt = undefined;
      await this.ctx.storage.deleteAlarm();
    }
  }

  private write(id: string, change: (current: UserAttributes) => UserAttributes): ScimWrite | ScimFailure {
    try {
      return this.writeOrThrow(id, change);
    } catch (err) {
      return refusal(err);
    }
  }

  private writeOrThrow(id: string, change: (current: UserAttributes) => UserAttributes): ScimWrite {
    const r = this.row(id);
    if (!r) throw new ScimError("not_found", `no user ${id.slice(0, 100)}`);
    const current = JSON.parse(r.attributes) as UserAttributes;
    const next = change(current);
    tooLarge(next);
    if (this.taken(next.userName, id)) {
      throw new ScimError("conflict", `userName ${next.userName.slice(0, 100)} already exists`, "uniqueness");
    }
    const deactivations = r.deactivations + (current.active && !next.active ? 1 : 0);
    this.sql.exec(
      `UPDATE users SET user_name = ?, external_id = ?, attributes = ?, last_modified = ?, version = version + 1,
         deactivations = ? WHERE id = ?`,
      next.userName,
      typeof next.externalId === "string" ? next.externalId : null,
      JSON.stringify(next),
      new Date().toISOString(),
      deactivations,
      id,
    );
    const user = this.get(id) as ScimUser;
    const deprovision = !next.active && deactivations > 0 ? deactivations : null;
    // Committed with the write: if the request dies before the run starts, the alarm starts it.
    if (deprovision !== null && deprovision > r.runs_started) this.scheduleRecovery();
    return { user, deprovision };
  }
}
