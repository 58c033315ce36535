import { DurableObject } from "cloudflare:workers";
import type { AuditInput } from "../../audit/schema";
import type { AuditStore } from "../../audit/store";
import { type Bindings, loadConfig } from "../../env";
import { auditStore } from "../../services";
import type { Reactivation } from "../reactivation";
import { changeRecord, type ScimMethod } from "./audit";
import { startDeprovisioning } from "./deprovision";
import { ScimError } from "./errors";
import type { ScimFilter } from "./filter";
import { applyPatch } from "./patch";
import { drainReactivation } from "./reactivate";
import {
  foldUserName,
  type PatchOperation,
  type PendingAudit,
  type PendingReactivation,
  type ScimFailure,
  type ScimUser,
  type ScimWrite,
  type UserAttributes,
  withoutPasswords,
} from "./schema";
import { subjectOf } from "./subject";
import { migrate, type OutboxKind, type OutboxRow, PENDING_WORK, type UserRow } from "./tables";

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
/**
 * Outbox reactivations the alarm retries per run (the rest wait for the next minute). Each reads up to 200 of
 * the person's ledgers (decide.ts, PERSON_RUNS_SCANNED) and cancels the waiting ones: 5 keep an alarm
 * near 1,000 subrequests, the Workers limit per invocation.
 */
const REACTIVATIONS_PER_ALARM = 5;

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

  /**
   * These outbox entries are done (the audit records are in KV, the reactivations' runs withdrawn): the
   * recovery alarm need not do them.
   */
  outboxDone(seqs: number[]): void {
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
   * Recovery: writes the audit records, withdraws the waiting runs of reactivations and starts the
   * deprovisioning runs that requests did not confirm (the Worker died between the directory's write and its
   * own, or the call failed), and finishes DELETEs cut short. Retried every minute until done. A record may
   * then be written twice (the request may have written it and died before confirming); it is never lost.
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
    await this.retryReactivations(env, store);
    const ids = this.sql.exec<{ id: string }>(`SELECT id FROM users WHERE ${PENDING_WORK}`).toArray();
    for (const { id } of ids) {
      // Read when its turn comes, not before the loop: while an earlier user's run was being started this
      // object took other requests, a reactivation of this user too (its run would come after it).
      const row = this.sql
        .exec<UserRow>(`SELECT * FROM users WHERE id = ? AND (${PENDING_WORK})`, id)
        .toArray()[0];
      if (!row) continue;
      const user = toUser(row);
      try {
        if (row.deactivations > row.runs_started && user.attributes.active) {
          // Set active again before the run of its deactivation was started: no run now (issue 11: a rehire
          // or a mistake must not revoke anything later; it would be received after the reactivation, which
          // withdraws only earlier runs). A run the request did start is the reactivation's to withdraw.
          this.runStarted(user.id, row.deactivations);
        } else if (row.deactivations > row.runs_started) {
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

  private outbox(kind: OutboxKind, limit: number): OutboxRow[] {
    return this.sql
      .exec<OutboxRow>(
        "SELECT * FROM audit_outbox WHERE kind = ? ORDER BY attempts, seq LIMIT ?",
        kind,
        limit,
      )
      .toArray();
  }

  private async flushOutbox(store: () => AuditStore): Promise<void> {
    // Audit rows are never counted as tried (`attempts` stays 0): they go in order.
    const rows = this.outbox("audit", OUTBOX_BATCH);
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

  /**
   * The outbox's reactivations the requests did not confirm: their waiting runs are withdrawn now (each
   * entry independently; a failed one is counted and tried after the others next minute).
   */
  private async retryReactivations(env: Bindings, store: () => AuditStore): Promise<void> {
    for (const row of this.outbox("reactivation", REACTIVATIONS_PER_ALARM)) {
      const reactivation = JSON.parse(row.record) as Reactivation;
      const pending = {
        seq: row.seq,
        reactivation: { ...reactivation, label: `${reactivation.label}, retried` },
      };
      let ok = false;
      try {
        ok = await drainReactivation(
          env,
          store(),
          pending,
          (seqs) => this.outboxDone(seqs),
          "the next alarm",
        );
      } catch (err) {
        // store() itself failed (a bad configuration): logged like the withdrawal's own failures.
        console.error(
          JSON.stringify({
            level: "error",
            msg: "scim reactivation outbox",
            seq: row.seq,
            error: String(err),
          }),
        );
      }
      if (!ok) this.sql.exec("UPDATE audit_outbox SET attempts = attempts + 1 WHERE seq = ?", row.seq);
    }
  }

  /** Puts an entry in the outbox; the caller sets the recovery alarm once its transaction is done. */
  private queue(kind: OutboxKind, record: AuditInput | Reactivation): number {
    return this.sql
      .exec<{ seq: number }>(
        "INSERT INTO audit_outbox (kind, record) VALUES (?, ?) RETURNING seq",
        kind,
        JSON.stringify(record),
      )
      .one().seq;
  }

  /** Commits a write's audit record with the write (the outbox), for the request to write and confirm. */
  private enqueue(record: AuditInput | null): PendingAudit[] {
    if (!record) return [];
    const seq = this.queue("audit", record);
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
    const reactivated = method !== "DELETE" && !current.active && next.active;
    const now = new Date().toISOString();
    const record = changeRecord({
      method,
      id,
      before: current,
      after: method === "DELETE" ? null : next,
      at: now,
      requestId,
    });
    // One transaction: the change, its audit record and a reactivation's withdrawal are committed together
    // or not at all (a refusal thrown inside rolls all back).
    const queued = this.ctx.storage.transactionSync(() => {
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
      const audit: PendingAudit[] = record ? [{ seq: this.queue("audit", record), record }] : [];
      const reactivation = reactivated ? this.queueReactivation(id, method, next, now, requestId) : undefined;
      return { audit, reactivation };
    });
    const user = this.get(id) as ScimUser;
    const deprovision = !next.active && deactivations > 0 ? deactivations : null;
    // Committed with the write: if the request dies before the run starts, the record is written or the
    // runs are withdrawn, the alarm does it.
    if (
      queued.audit.length > 0 ||
      queued.reactivation ||
      (deprovision !== null && deprovision > r.runs_started)
    )
      this.scheduleRecovery();
    return {
      user,
      deprovision,
      audit: queued.audit,
      ...(queued.reactivation ? { reactivation: queued.reactivation } : {}),
    };
  }

  /**
   * A user set active again (issue 11): the withdrawal of the person's waiting runs, as an outbox entry. The
   * person is the one a deactivation of the user names (`subjectOf`: externalId or id, and e-mail; never the
   * name); `at` is this write's time, so a retry however late never withdraws a run accepted after it.
   */
  private queueReactivation(
    id: string,
    method: ScimMethod,
    user: UserAttributes,
    now: string,
    requestId: string | undefined,
  ): PendingReactivation {
    const reactivation: Reactivation = {
      source: "scim",
      eventId: id,
      label: `SCIM ${method} active=true (user ${id})`,
      person: subjectOf(id, user),
      at: Date.parse(now),
      requestId: requestId ?? "scim-recovery",
    };
    return { seq: this.queue("reactivation", reactivation), reactivation };
  }
}
