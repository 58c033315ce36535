import { DurableObject } from "cloudflare:workers";
import type { AuditInput } from "../../audit/schema";
import type { AuditStore } from "../../audit/store";
import { type Bindings, loadConfig } from "../../env";
import { auditStore } from "../../services";
import { changeRecord, type ScimMethod } from "./audit";
import { startDeprovisioning } from "./deprovision";
import { ScimError } from "./errors";
import type { ScimFilter } from "./filter";
import { applyPatch } from "./patch";
import {
  foldUserName,
  type PatchOperation,
  type PendingAudit,
  type ScimFailure,
  type ScimUser,
  type ScimWrite,
  type UserAttributes,
  withoutPasswords,
} from "./schema";
import { migrate, PENDING_WORK, type UserRow } from "./tables";

function refusal(err: unknown): ScimFailure {
  if (err instanceof ScimError) {
    return {
      error: { code: err.code, message: err.message, ...(err.scimType ? { scimType: err.scimType } : {}) },
    };
  }
  throw err;
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

const conflict = (userName: string) =>
  new ScimError("conflict", `userName ${userName.slice(0, 100)} already exists`, "uniqueness");

/**
 * Runs a write whose unique indexes may refuse it. `taken` is checked first; this catches the rest (a v1
 * directory's ASCII-only NOCASE constraint, which a case change of an old duplicate can still meet).
 */
function unique<T>(userName: string, write: () => T): T {
  try {
    return write();
  } catch (err) {
    if (String(err).includes("UNIQUE constraint failed")) throw conflict(userName);
    throw err;
  }
}

/** How soon the directory itself finishes what a request did not (start a run, write an audit record). */
export const RECOVERY_DELAY_MS = 60_000;
/** Outbox records the alarm writes per run (the rest wait for the next minute). */
const OUTBOX_BATCH = 100;

const toUser = (r: UserRow): ScimUser => ({
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
 * repeats the request; the write's audit record is committed with it (an outbox).
 */
export class ScimDirectory extends DurableObject<Env> {
  private readonly sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    migrate(ctx.storage);
  }

  private row(id: string): UserRow | undefined {
    // A user being deleted is gone for every request (the alarm finishes the delete).
    return this.sql.exec<UserRow>("SELECT * FROM users WHERE id = ? AND deleting = 0", id).toArray()[0];
  }

  /** Whether another user's name folds to `key` (a user being deleted still holds its name). */
  private taken(key: string, exceptId: string | null): boolean {
    return (
      this.sql
        .exec("SELECT 1 FROM users WHERE user_name_key = ? AND id IS NOT ? LIMIT 1", key, exceptId)
        .toArray().length > 0
    );
  }

  get(id: string): ScimUser | null {
    const r = this.row(id);
    return r ? toUser(r) : null;
  }

  /** `attr eq "value"` for userName (Unicode case folded), externalId or id; or everyone, paged. */
  find(filter: ScimFilter | null, startIndex: number, count: number): { total: number; users: ScimUser[] } {
    const column = filter
      ? { userName: "user_name_key", externalId: "external_id", id: "id" }[filter.attr]
      : null;
    const where = column ? `WHERE deleting = 0 AND ${column} = ?` : "WHERE deleting = 0";
    const args = filter ? [filter.attr === "userName" ? foldUserName(filter.value) : filter.value] : [];
    const total = this.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM users ${where}`, ...args).one().n;
    const rows = this.sql
      .exec<UserRow>(
        `SELECT * FROM users ${where} ORDER BY created, id LIMIT ? OFFSET ?`,
        ...args,
        count,
        startIndex - 1,
      )
      .toArray();
    return { total, users: rows.map(toUser) };
  }

  create(input: UserAttributes, requestId?: string): ScimWrite | ScimFailure {
    try {
      return this.createOrThrow(input, requestId);
    } catch (err) {
      return refusal(err);
    }
  }

  /** PUT: replaces the user's attributes; without `active` in the request, the current value stays. */
  replace(
    id: string,
    attributes: UserAttributes,
    activeGiven = true,
    requestId?: string,
  ): ScimWrite | ScimFailure {
    return this.write(id, "PUT", requestId, (current) =>
      activeGiven ? attributes : { ...attributes, active: current.active },
    );
  }

  /** PATCH: applies the operations to the stored user, in this one call. */
  patch(id: string, ops: PatchOperation[], requestId?: string): ScimWrite | ScimFailure {
    return this.write(id, "PATCH", requestId, (current) => applyPatch(current, ops));
  }

  /**
   * DELETE, first half: a delete of an active user is a deprovisioning too. Counts it and returns the run key;
   * the user is removed by `remove` once the run is started, so a retried DELETE cannot lose the run.
   */
  prepareDelete(id: string, requestId?: string): ScimWrite | ScimFailure {
    const result = this.write(id, "DELETE", requestId, (current) => ({ ...current, active: false }));
    if (!("error" in result)) {
      this.sql.exec("UPDATE users SET deleting = 1 WHERE id = ?", id);
      this.scheduleRecovery(); // removes the user even if the DELETE's request dies before `remove`
    }
    return result;
  }

  /** DELETE, second half: removes the user once the run of its last deactivation is started. */
  remove(id: string): boolean {
    const removed =
      this.sql.exec("DELETE FROM users WHERE id = ? AND runs_started >= deactivations", id).rowsWritten > 0;
    this.settle();
    return removed;
  }

  /** The run of the user's `n`-th deactivation is started: the recovery alarm need not start it. */
  runStarted(id: string, n: number): void {
    this.sql.exec("UPDATE users SET runs_started = max(runs_started, ?) WHERE id = ?", n, id);
    this.settle();
  }

  /** These outbox records are in KV: the recovery alarm need not write them. */
  audited(seqs: number[]): void {
    this.sql.exec(
      "DELETE FROM audit_outbox WHERE seq IN (SELECT value FROM json_each(?))",
      JSON.stringify(seqs),
    );
    this.settle();
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

  /** Nothing left for the alarm (every request confirmed its work): no wake-up a minute later. */
  private settle(): void {
    if (this.pending()) return;
    this.alarmAt = undefined;
    void this.ctx.storage.deleteAlarm();
  }

  /** Whether a run, a delete or an audit record is still unconfirmed (both look-ups are indexed). */
  private pending(): boolean {
    return (
      this.sql.exec("SELECT 1 FROM audit_outbox LIMIT 1").toArray().length > 0 ||
      this.sql.exec(`SELECT 1 FROM users WHERE ${PENDING_WORK} LIMIT 1`).toArray().length > 0
    );
  }

  /** When the recovery alarm set by this instance fires (in memory: only to avoid pushing it back). */
  private alarmAt: number | undefined;

  /**
   * Recovery: writes the audit records and starts the deprovisioning runs that requests did not confirm (the
   * Worker died between the directory's write and its own), and finishes DELETEs cut short. Retried every
   * minute until done. A record may then be written twice (the request may have written it and died before
   * confirming); it is never lost.
   */
  override async alarm(): Promise<void> {
    // Re-armed first: whatever happens below (a bad configuration, KV down, a crash), it comes back.
    this.alarmAt = Date.now() + RECOVERY_DELAY_MS;
    await this.ctx.storage.setAlarm(this.alarmAt);
    const env = this.env as unknown as Bindings;
    let audit: AuditStore | undefined;
    const store = () => {
      audit ??= auditStore(env.AUDIT, loadConfig(env));
      return audit;
    };
    await this.flushOutbox(store);
    const rows = this.sql.exec<UserRow>(`SELECT * FROM users WHERE ${PENDING_WORK}`).toArray();
    for (const row of rows) {
      const user = toUser(row);
      try {
        if (row.deactivations > row.runs_started) {
          await startDeprovisioning(
            env,
            store(),
            user,
            row.deactivations,
            "deprovisioning (recovered)",
            "scim-recovery",
            async (id) => this.get(id),
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
    if (!this.pending()) {
      this.alarmAt = undefined;
      await this.ctx.storage.deleteAlarm();
    }
  }

  private async flushOutbox(store: () => AuditStore): Promise<void> {
    const rows = this.sql
      .exec<{ seq: number; record: string }>(
        `SELECT seq, record FROM audit_outbox ORDER BY seq LIMIT ${OUTBOX_BATCH}`,
      )
      .toArray();
    for (const { seq, record } of rows) {
      try {
        await store().write(JSON.parse(record) as AuditInput);
        this.sql.exec("DELETE FROM audit_outbox WHERE seq = ?", seq);
      } catch (err) {
        console.error(JSON.stringify({ level: "error", msg: "scim audit outbox", seq, error: String(err) }));
        return; // KV or the configuration is down: the next alarm tries again, in order
      }
    }
  }

  /** Commits a write's audit record with the write (the outbox), for the request to write and confirm. */
  private enqueue(record: AuditInput | null): PendingAudit[] {
    if (!record) return [];
    const { seq } = this.sql
      .exec<{ seq: number }>(
        "INSERT INTO audit_outbox (record) VALUES (?) RETURNING seq",
        JSON.stringify(record),
      )
      .one();
    this.scheduleRecovery();
    return [{ seq, record }];
  }

  private createOrThrow(input: UserAttributes, requestId: string | undefined): ScimWrite {
    // Never stored, whoever calls (the route has already dropped it; this is the last gate).
    const attributes = withoutPasswords(input);
    tooLarge(attributes);
    const key = foldUserName(attributes.userName);
    if (this.taken(key, null)) throw conflict(attributes.userName);
    const now = new Date().toISOString();
    const id = crypto.randomUUID();
    unique(attributes.userName, () =>
      this.sql.exec(
        `INSERT INTO users (id, user_name, user_name_key, external_id, attributes, created, last_modified,
           version, deactivations)
         VALUES (?, ?, ?, ?, ?, ?, ?, 1, 0)`,
        id,
        attributes.userName,
        key,
        typeof attributes.externalId === "string" ? attributes.externalId : null,
        JSON.stringify(attributes),
        now,
        now,
      ),
    );
    const audit = this.enqueue(
      changeRecord({ method: "POST", id, before: null, after: attributes, at: now, requestId }),
    );
    return { user: this.get(id) as ScimUser, deprovision: null, audit };
  }

  private write(
    id: string,
    method: ScimMethod,
    requestId: string | undefined,
    change: (current: UserAttributes) => UserAttributes,
  ): ScimWrite | ScimFailure {
    try {
      return this.writeOrThrow(id, method, requestId, change);
    } catch (err) {
      return refusal(err);
    }
  }

  private writeOrThrow(
    id: string,
    method: ScimMethod,
    requestId: string | undefined,
    change: (current: UserAttributes) => UserAttributes,
  ): ScimWrite {
    const r = this.row(id);
    if (!r) throw new ScimError("not_found", `no user ${id.slice(0, 100)}`);
    const current = JSON.parse(r.attributes) as UserAttributes;
    const next = withoutPasswords(change(current));
    tooLarge(next);
    // A user's own name never conflicts with itself (nor does an old duplicate's, see tables.ts).
    const key = foldUserName(next.userName);
    const sameName = key === r.user_name_key;
    if (!sameName && this.taken(key, id)) throw conflict(next.userName);
    const deactivations = r.deactivations + (current.active && !next.active ? 1 : 0);
    const now = new Date().toISOString();
    unique(next.userName, () =>
      this.sql.exec(
        `UPDATE users SET user_name = ?, user_name_key = ?, user_name_dup = ?, external_id = ?, attributes = ?,
           last_modified = ?, version = version + 1, deactivations = ? WHERE id = ?`,
        next.userName,
        key,
        sameName ? r.user_name_dup : 0,
        typeof next.externalId === "string" ? next.externalId : null,
        JSON.stringify(next),
        now,
        deactivations,
        id,
      ),
    );
    const audit = this.enqueue(
      changeRecord({
        method,
        id,
        before: current,
        after: method === "DELETE" ? null : next,
        at: now,
        requestId,
      }),
    );
    const user = this.get(id) as ScimUser;
    const deprovision = !next.active && deactivations > 0 ? deactivations : null;
    // Committed with the write: if the request dies before the run starts, the alarm starts it.
    if (deprovision !== null && deprovision > r.runs_started) this.scheduleRecovery();
    const reactivated = method !== "DELETE" && !current.active && next.active;
    return { user, deprovision, audit, ...(reactivated ? { reactivated } : {}) };
  }
}
