import { WorkflowEntrypoint, type WorkflowEvent, type WorkflowStep } from "cloudflare:workers";
import { NonRetryableError } from "cloudflare:workflows";
import type { AuditStore } from "../audit/store";
import { type Bindings, loadConfig } from "../env";
import { publishRunEvent } from "../events/publish";
import { auditStore, runClient } from "../services";
import { AccountSteps, overallStatus } from "./account-steps";
import { type ActionName, actionsOf } from "./actions";
import { limiter, settleAll } from "./concurrency";
import type { RunContext, Subject } from "./context";
import { cancelPending, cancelShares } from "./execute";
import { GateSteps } from "./gate-steps";
import { currentHolds } from "./holds";
import { instanceId, unwatchRun, wakeInstance } from "./instances";
import type { LeaverLock } from "./leavers";
import { postToChat } from "./notify";
import { AuditFlusher, flushAudit } from "./outbox";
import { listPages, planPage } from "./paging";
import { type Resolution, resolveLeaver, userExists } from "./resolve";
import { approvalBlocks, escapeSlack } from "./slack-blocks";
import { receivedRecord } from "./start";
import { auditState, isEngineAbort, STEP } from "./steps";
import { describeRun, personOf } from "./summary";
import { type Counts, type RunMeta, type RunParams, type RunStatus, TERMINAL } from "./types";

/**
 * Execute + verify passes at most. A verify listing that finds shares the plan never saw (created after
 * planning, or missed by a cursor that drifted while shares disappeared) plans them and runs another pass.
 */
export const MAX_PASSES = 3;
/** What a step result holds instead of a chat response URL (the URL itself is read from the ledger). */
const NOTIFY_URL_IN_LEDGER = "(in the run's ledger)";

/** Posting a result to chat is tried once: Slack's response_url allows few posts. */
const NOTIFY_STEP = { retries: { limit: 0, delay: "1 second" }, timeout: "30 seconds" } as const;

/** KooDrive's cursor for a listing's first page. */
const FIRST_CURSOR = "0";
/** The event a finishing run sends to the runs waiting for the same person. */
const LEAVER_FREE_EVENT = "leaver-free";
/** The event a newer run for the same person sends to the run that watches them (issue 10). */
const WATCH_END_EVENT = "watch-ended";
/**
 * A run waiting for another run of the same person is woken by it, and also polls this often (doubling: a
 * lost wake-up only costs time), and gives up after a day.
 */
const LEAVER_POLL_FIRST_S = 10;
const LEAVER_POLL_MAX_S = 600;
const LEAVER_WAIT_MAX_MS = 24 * 3_600_000;

type Outcome = { status: RunStatus | "superseded"; counts?: Counts };

/**
 * Who the run is for, as the resolve step recorded it. `needsConfirmation` and `claimed` are absent in a
 * resolve step cached by version 0.1 (a run in flight at the upgrade).
 */
type Resolved = {
  ok: true;
  userId: string;
  needsConfirmation?: boolean;
  claimed?: boolean;
  name?: string;
  detail?: string;
};

/**
 * The durable revocation run: resolve the leaver, wait for their last day, (confirm a name match), claim
 * the person, plan (list every share they created), execute (cancel in batches), verify (list again),
 * report. Each stage is a sequence of retried steps; all state lives in the run's ledger (a Durable Object),
 * so a replayed or retried step never redoes finished work. The work inside the steps is in paging.ts,
 * execute.ts and outbox.ts.
 */
export class OffboardingWorkflow extends WorkflowEntrypoint<Bindings, RunParams> {
  override async run(event: WorkflowEvent<RunParams>, step: WorkflowStep): Promise<Outcome> {
    const meta = await this.start(step, event.payload);
    if (!meta) return { status: "superseded" };
    const run = new Run(this.env, step, meta);
    const actions = actionsOf(meta.request);
    const revokes = actions.includes("revoke_shares");
    try {
      const who = await run.resolve();
      if (!who.ok) return await run.finish("unresolved", who.detail);
      // A run resumed while it watched (the sweeper) goes back to its watch: its main actions are done.
      if (meta.actions?.watch?.state === "watching") return await run.watch();
      if (meta.request.dryRun) {
        if (revokes) await run.plan({ cancel: false });
        await run.account().dryRun(actions, await run.userHold());
        return await run.finishDryRun(who);
      }
      // Issue 11: the leaver's last day (which may be moved or cancelled meanwhile), then the approval gate,
      // which the name-match confirmation is one kind of. A gated run is planned first (what a dry run shows,
      // what the approver approves) and executes that plan once approved; nothing acts before.
      const gates = run.gates();
      if (meta.request.effectiveAt && !(await gates.schedule())) return await run.endNotRun("withdrawn");
      // A resolve step cached by version 0.1 says nothing about confirmation: the gate step asks the ledger.
      const confirm = who.needsConfirmation ?? (await run.unconfirmedNameMatch());
      const gated = confirm || run.mayNeedApproval;
      if (gated) {
        if (revokes) await run.plan({ cancel: false });
        const decided = await gates.approval(
          confirm ? { userId: who.userId, name: who.name } : undefined,
          () => run.announceApproval(),
        );
        if (!decided.ok) return await run.endNotRun(decided.status, decided.detail);
        if (confirm) run.confirmed(who.userId);
      }
      const waited = await run.claimLeaver();
      if (!waited.ok) return await run.finish("failed", waited.detail);
      // Issue 10, in order: revoke shares and verify, hand over, block the login, watch. A hold on the
      // person stops every action (the shares are planned as held, as before).
      const hold = await run.userHold();
      let revoke: [RunStatus, string] | undefined;
      if (revokes) {
        // A handover an earlier attempt completed may have removed the user ("transfer and delete"): their
        // shares cannot be listed any more, and what the earlier attempts verified stands.
        revoke = (await run.revokeAfterRemoval()) ?? undefined;
        if (!revoke) {
          if (!gated) await run.plan({ cancel: true });
          revoke = await run.executeAndVerify();
          await run.recordRevoke(revoke, hold);
        }
      }
      const account = run.account();
      for (const action of ["handover", "block_login"] as const) {
        if (!actions.includes(action)) continue;
        if (hold) await account.held(action, hold);
        else if (action === "handover") await account.handover();
        else await account.blockLogin();
      }
      if (actions.includes("watch")) {
        if (!hold) return await run.watch(revoke);
        await account.held("watch", hold);
      }
      const result = await run.finish(...(await run.overall(revoke)));
      await account.evidence();
      return result;
    } catch (err) {
      // A failing finish step is not turned into "failed" over a result it may already have recorded:
      // the instance errors and the sweeper takes it from there. Nor is the engine stopping the instance
      // (an operator's pause, a termination): that is not the run failing.
      if (run.finishing || isEngineAbort(err)) throw err;
      const detail = err instanceof Error ? err.message : String(err);
      return await run.finish("failed", detail.slice(0, 500));
    }
  }

  /** The first step: fencing (an older attempt stops here), status `running`, the request's audit record. */
  private async start(step: WorkflowStep, { runId, attempt }: RunParams): Promise<RunMeta | null> {
    const ledger = this.env.RUNS.getByName(runId);
    const audit = auditStore(this.env.AUDIT, loadConfig(this.env));
    return step.do(`start (attempt ${attempt})`, STEP, async () => {
      // Fencing: an instance of an older attempt (the sweeper or an admin started a newer one) stops here.
      const current = await ledger.getMeta();
      if (!current || current.attempt !== attempt) return null;
      // Withdrawn before its Workflow began (a reactivation, an operator): it ends as it is, nothing done.
      if (current.status === "withdrawn") return null;
      const m = await ledger.update({ status: "running" });
      // Withdrawn between the read above and this write: the ledger kept `withdrawn` (it never reopens).
      if (m.status === "withdrawn") return null;
      await Promise.all([
        attempt === 1 ? audit.write(receivedRecord(m.request, false, "accepted")) : undefined,
        auditState(audit, m, `attempt ${attempt} started`),
        // Issue 11: `run.accepted` (once: its event id is the run's, attempt 1's).
        attempt === 1 ? publishRunEvent(this.env, { ...m, status: "accepted" }) : undefined,
      ]);
      // Step results are stored by Workflows (and shown in the dashboard): a chat response URL, a
      // capability, stays in the ledger only.
      return m.request.notifyUrl ? { ...m, request: { ...m.request, notifyUrl: NOTIFY_URL_IN_LEDGER } } : m;
    });
  }
}

/** One run's stages, each a named sequence of durable steps over the run's ledger. */
class Run {
  readonly ledger;
  readonly audit: AuditStore;
  readonly config;
  readonly client;
  readonly runId: string;
  subject: Subject;
  userId: string | undefined;
  finishing = false;

  constructor(
    private readonly env: Bindings,
    private readonly step: WorkflowStep,
    private readonly meta: RunMeta,
  ) {
    this.runId = meta.request.runId;
    this.ledger = env.RUNS.getByName(this.runId);
    this.config = loadConfig(env);
    this.audit = auditStore(env.AUDIT, this.config);
    this.client = runClient(env.GOVERNOR, this.config, this.runId, (err) => this.governorDown(err));
    this.subject = meta.request.subject;
  }

  /**
   * The rate governor failed (an error, unreachable): the run goes on with the client's own backoff. Logged
   * and audited once per run (per Workflow instance start: the client reports only its first failure).
   */
  private governorDown(err: unknown): void {
    const reason = "rate governor unavailable: this run goes on with the KooDrive client's own backoff";
    console.warn(JSON.stringify({ level: "warn", msg: reason, runId: this.runId, error: String(err) }));
    const m = this.meta;
    // Best effort, not awaited by the call that failed over: the run's work must not wait for it.
    this.audit
      .write({
        type: "run.state",
        actor: "workflow",
        source: m.request.source,
        eventId: m.request.eventId,
        runId: this.runId,
        requestId: m.request.requestId,
        subject: this.subject,
        status: "running",
        reason,
        details: { governor: "unavailable" },
      })
      .catch(() => {});
  }

  private get request() {
    return this.meta.request;
  }

  /** Who the leaver is in KooDrive (see resolve.ts); an earlier attempt's answer stands. */
  async resolve(): Promise<Resolved | Extract<Resolution, { ok: false }>> {
    const r: Resolved | Extract<Resolution, { ok: false }> = await this.step.do("resolve", STEP, async () => {
      const m = this.meta;
      if (m.koodriveUserId) {
        // Resolved by an earlier attempt. A name match that version 0.1 acted on without asking waits for an
        // operator now, unless the run's policy is `auto`.
        const legacy =
          m.resolvedBy === "name_match" && !m.confirmedBy && (m.request.nameMatch ?? "off") !== "auto";
        return {
          ...(await this.claimNow(m.koodriveUserId, legacy)),
          ok: true as const,
          userId: m.koodriveUserId,
          needsConfirmation: legacy,
        };
      }
      const found = await resolveLeaver(this.request.subject, {
        kv: this.env.AUDIT,
        client: this.client,
        directoryUserId: this.config.KOODRIVE_DIRECTORY_USER_ID || undefined,
        nameMatch: this.request.nameMatch ?? "off",
      });
      if (!found.ok) return found;
      // A name match waiting for confirmation is a candidate, not the leaver: nothing acts on it yet.
      if (!found.needsConfirmation)
        await this.ledger.update({
          koodriveUserId: found.userId,
          ...(found.name ? { koodriveName: found.name } : {}),
          resolvedBy: found.by,
          detail: found.detail,
        });
      return { ...found, ...(await this.claimNow(found.userId, found.needsConfirmation)) };
    });
    if (r.ok) {
      this.userId = r.userId;
      this.claimed = r.claimed === true;
      // An unconfirmed name match is not filed under that person in the audit trail until confirmed.
      if (!r.needsConfirmation) this.subject = { ...this.request.subject, koodriveUserId: r.userId };
    }
    return r;
  }

  /**
   * The common case claims the leaver inside the resolve step (one step less on every run's path): a real
   * run that goes straight on to plan. A run that will wait (its leaver's last day ahead, a confirmation)
   * claims later, in `claimLeaver`, so it never holds the person while it waits.
   */
  private async claimNow(userId: string, needsConfirmation: boolean): Promise<{ claimed: boolean }> {
    const effectiveAt = this.request.effectiveAt ? Date.parse(this.request.effectiveAt) : 0;
    if (this.request.dryRun || needsConfirmation || this.mayNeedApproval || effectiveAt > Date.now())
      return { claimed: false };
    const lock = this.env.LEAVERS.getByName(userId);
    const first = await lock.claim(this.runId, instanceId(this.runId, this.meta.attempt));
    if (!("granted" in first)) return { claimed: false };
    await this.endOlderWatch(lock, first.watcher);
    await this.ledger.clearWait(); // a wait left by an earlier attempt must not hide this one from the sweeper
    return { claimed: true };
  }
  private claimed = false;

  /**
   * Whether the run's approval policy may hold it (issue 11): its source needs approval, the layoff guard
   * held it, or its plan may be too large. Such a run is planned before the gate and claims the person after
   * it. Not once a decision is recorded (a later attempt of an approved run goes on as usual).
   */
  get mayNeedApproval(): boolean {
    const policy = this.request.approvalPolicy;
    // Only an approval lets a later attempt skip the gate; a rejection is read at the gate and ends the run.
    if (this.meta.decision?.verdict === "approved") return false;
    return Boolean(policy?.source || policy?.burst || (policy?.aboveShares ?? 0) > 0);
  }

  /** The waits before the run acts: its effectiveAt and the approval gate (gate-steps.ts). */
  gates(): GateSteps {
    return new GateSteps(this.step, this.ledger, this.audit);
  }

  /** A confirmed name match is the leaver from now on (filed under them in the audit trail). */
  confirmed(userId: string): void {
    this.subject = { ...this.request.subject, koodriveUserId: userId };
  }

  /**
   * Ends a run that did nothing (issue 11: rejected, expired, cancelled): each of its actions is marked
   * `not_run`, so no view shows them pending.
   */
  async endNotRun(status: RunStatus, detail?: string): Promise<Outcome> {
    const why = await this.step.do(`not run (${status})`, STEP, async () => {
      const m = await this.ledger.getMeta();
      const text = detail ?? m?.detail ?? status;
      for (const action of actionsOf(this.request))
        if (!m?.actions?.[action] || m.actions[action]?.state === "pending")
          await this.ledger.setAction(action, { state: "not_run", detail: `the run ended ${status}` });
      return text;
    });
    return this.finish(status, why);
  }

  /**
   * Whether the leaver in the ledger came from a name match nobody confirmed under a policy that does not
   * allow acting on one (a run resolved by name by version 0.1, which had no such policy). Such a run waits
   * for an operator like any `confirm` match. Read from the ledger in its own step, so runs in flight at the
   * upgrade take it too.
   */
  async unconfirmedNameMatch(): Promise<boolean> {
    return this.step.do("name match gate", STEP, async () => {
      const m = await this.ledger.getMeta();
      return (
        !!m && m.resolvedBy === "name_match" && !m.confirmedBy && (m.request.nameMatch ?? "off") !== "auto"
      );
    });
  }

  /**
   * One person, one active run: claims the leaver (LeaverLock), or waits for the run that holds them
   * (polling durably), so two runs never cancel the same shares side by side. A holder that is finished or
   * gone is replaced. After LEAVER_WAIT_MAX_MS of waiting the run fails (retryable) rather than wait forever.
   */
  async claimLeaver(): Promise<{ ok: true } | { ok: false; detail: string }> {
    const userId = this.userId;
    if (!userId) throw new Error("claimLeaver before resolve");
    if (this.claimed) return { ok: true };
    const lock = this.env.LEAVERS.getByName(userId);
    const self = instanceId(this.runId, this.meta.attempt);
    let waitedMs = 0;
    for (let i = 0; ; i++) {
      const holder = await this.step.do(`claim leaver ${i}`, STEP, async () => {
        const first = await lock.claim(this.runId, self);
        if ("granted" in first) {
          await this.endOlderWatch(lock, first.watcher);
          await this.ledger.clearWait(); // the sweeper watches the run again at once
          return null;
        }
        const other = await this.env.RUNS.getByName(first.heldBy).getMeta();
        if (!other || TERMINAL.has(other.status)) {
          const again = await lock.claim(this.runId, self, first.heldBy);
          if (!("granted" in again)) return again.heldBy;
          await this.endOlderWatch(lock, again.watcher);
          await this.ledger.clearWait();
          return null;
        }
        const delayS = Math.min(LEAVER_POLL_MAX_S, LEAVER_POLL_FIRST_S * 2 ** i);
        const m = await this.ledger.update({
          waitUntil: new Date(Date.now() + delayS * 1000).toISOString(),
          detail: `waiting for run ${first.heldBy}: it is revoking the same person's shares`,
        });
        if (i === 0) await auditState(this.audit, m, m.detail ?? "", undefined, { joined: first.heldBy });
        return first.heldBy;
      });
      if (holder === null) return { ok: true };
      if (waitedMs >= LEAVER_WAIT_MAX_MS)
        return {
          ok: false,
          detail: `run ${holder} still holds this person after 24 h; retry this run later`,
        };
      const delayS = Math.min(LEAVER_POLL_MAX_S, LEAVER_POLL_FIRST_S * 2 ** i);
      waitedMs += delayS * 1000;
      try {
        await this.step.waitForEvent(`wait for run ${holder} ${i}`, {
          type: LEAVER_FREE_EVENT,
          timeout: `${delayS} seconds`,
        });
      } catch (err) {
        if (isEngineAbort(err)) throw err;
        // No wake-up within the poll interval: look again.
      }
    }
  }

  private context(): RunContext {
    if (!this.userId) throw new Error("context before resolve");
    return {
      ledger: this.ledger,
      holds: this.env.HOLDS,
      client: this.client,
      audit: this.audit,
      meta: this.meta,
      subject: this.subject,
      userId: this.userId,
      parallelism: this.config.CANCEL_PARALLELISM,
      lookahead: this.lookahead,
    };
  }
  private readonly lookahead = {};

  /**
   * Plan: page through every share the leaver created, PAGES_PER_STEP pages a step. With `cancel`, each
   * page's shares are cancelled while the next page is listed (paging is sequential, so this hides the
   * cancels behind it). How KooDrive's cursor behaves while shares disappear is not documented: if it drifts
   * and hides some, the verify listing (no cancels while it pages) finds them.
   */
  async plan({ cancel, late = false, name = "plan" }: { cancel: boolean; late?: boolean; name?: string }) {
    const ctx = { ...this.context(), late };
    await this.pageThrough(name, async (from) => {
      // A plan is only ever for this leaver: one made for someone else (an unconfirmed name match) is dropped.
      if (from === FIRST_CURSOR) {
        const planned = await this.ledger.planFor(ctx.userId);
        if ("refused" in planned) throw new NonRetryableError(planned.refused);
      }
      const holds = currentHolds(ctx.holds); // read while the first page is fetched
      holds.catch(() => {}); // awaited by the first page's handler
      const limit = limiter(ctx.parallelism);
      const flusher = new AuditFlusher(ctx);
      const cancels: Promise<unknown>[] = [];
      let next: string | undefined;
      try {
        next = await listPages(ctx, from, async (links) => {
          const fresh = await planPage(ctx, links, await holds);
          if (!cancel || fresh.length === 0) return;
          const sent = limit(() => cancelShares(ctx, fresh, flusher));
          sent.catch(() => {}); // observed by settleAll below; this only keeps it from being "unhandled"
          cancels.push(sent);
        });
      } finally {
        await Promise.allSettled(cancels); // a failed listing still waits for the cancels it started
        await flusher.drain().catch(() => {}); // best effort here; the outbox keeps what is not written
      }
      await settleAll(cancels);
      await flusher.drain();
      return next;
    });
  }

  /**
   * Execute (cancel whatever is pending, a few rounds of batches per step) and verify (list again: planned
   * shares still listed are reported, shares never planned are planned and cancelled in another pass).
   */
  async executeAndVerify({ late = false, prefix = "" } = {}): Promise<[RunStatus, string]> {
    const ctx = { ...this.context(), late };
    let counts: Counts | undefined;
    for (let pass = 1; pass <= MAX_PASSES; pass++) {
      for (let k = 0; ; k++) {
        const r = await this.step.do(`${prefix}cancel ${pass}.${k}`, STEP, () => cancelPending(ctx));
        if (r.done) break;
      }
      // The first page's step starts from a clean slate (flags of an interrupted or earlier pass dropped).
      await this.pageThrough(`${prefix}verify ${pass}`, async (from) => {
        const holds = currentHolds(ctx.holds);
        holds.catch(() => {});
        if (from === FIRST_CURSOR) await this.ledger.resetSeen();
        return listPages(ctx, from, async (links) => {
          await this.ledger.markSeen(links.map((s) => s.shareId));
          await planPage(ctx, links, await holds);
        });
      });
      counts = await this.step.do(`${prefix}verify ${pass} done`, STEP, async () => {
        await this.ledger.finishVerify();
        await flushAudit(ctx);
        return this.ledger.counts();
      });
      // Execute drained everything pending, so anything planned now was discovered by this verify.
      if (counts.planned === 0) break;
    }
    if (!counts) throw new Error("no verify pass ran"); // MAX_PASSES >= 1: unreachable
    const open = counts.failed + counts.still_active + counts.planned + counts.in_flight;
    return open === 0
      ? [
          "completed",
          `${counts.cancelled} cancelled, ${counts.already_gone} already gone, ${counts.skipped_hold + counts.skipped_scope} skipped`,
        ]
      : ["partial", `${open} share(s) still active or failed`];
  }

  /** The handover, block and evidence steps of this run (account-steps.ts). */
  account(): AccountSteps {
    if (!this.userId) throw new Error("account steps before resolve");
    return new AccountSteps(this.step, this.ledger, this.audit, this.config, {
      client: this.client,
      kv: this.env.AUDIT,
      userId: this.userId,
      evidenceClient: runClient(this.env.GOVERNOR, this.config, `${this.runId}/evidence`, () => {}, {
        background: true,
      }),
    });
  }

  /** A hold on the leaver (`user:<id>`) stops every action: its description, or null. */
  async userHold(): Promise<string | null> {
    const userId = this.userId;
    if (!userId) throw new Error("userHold before resolve");
    return this.step.do("user hold", STEP, async () =>
      (await currentHolds(this.env.HOLDS)).userIds.has(userId)
        ? `KooDrive user ${userId} is on hold (user:${userId}): nothing is done for this person`
        : null,
    );
  }

  /** revoke_shares' outcome, from the verify (a hold keeps every share: the action is `held`). */
  async recordRevoke([status, detail]: [RunStatus, string], hold: string | null): Promise<void> {
    await this.step.do("revoke_shares done", STEP, async () => {
      const state = hold ? "held" : status === "completed" ? "completed" : "failed";
      await this.ledger.setAction("revoke_shares", { state, detail: hold ? `${detail}; ${hold}` : detail });
    });
  }

  /**
   * On a later attempt of a run whose handover began, the shares are not always listed again:
   * - the earlier attempts verified them all and a handover task exists (or may: its create was sent).
   *   KooDrive may remove the user when the task ends ("transfer and delete"), in the middle of a new
   *   listing; what was verified stands;
   * - the handover completed and KooDrive no longer has the user: the shares' outcome is what the earlier
   *   attempts verified (failed shares stay failed, said why).
   * Null otherwise (the shares are listed as usual).
   */
  async revokeAfterRemoval(): Promise<[RunStatus, string] | null> {
    const userId = this.userId;
    if (!userId) throw new Error("revokeAfterRemoval before resolve");
    return this.step.do("revoke after a handover", STEP, async () => {
      const m = await this.ledger.getMeta();
      const handover = m?.actions?.handover;
      const prior = m?.actions?.revoke_shares;
      const taskMade = Boolean(handover?.tasks?.length || handover?.intent);
      if (prior?.state === "completed" && taskMade) return ["completed", prior.detail] as [RunStatus, string];
      if (handover?.state !== "completed") return null;
      const acting = this.config.KOODRIVE_DIRECTORY_USER_ID || userId;
      if ((await userExists(this.client, acting, userId)).exists) return null;
      if (prior?.state === "completed") return ["completed", prior.detail] as [RunStatus, string];
      const c = await this.ledger.counts();
      const open = c.failed + c.still_active + c.planned + c.in_flight;
      const detail = `KooDrive user ${userId} was removed by the handover; ${open} share(s) not verified cancelled before it cannot be listed any more`;
      await this.ledger.setAction("revoke_shares", { state: open === 0 ? "completed" : "failed", detail });
      return [open === 0 ? "completed" : "partial", detail] as [RunStatus, string];
    });
  }

  /** The run's status from its actions (account-steps.ts overallStatus), read from the ledger. */
  async overall(
    revoke: [RunStatus, string] | undefined,
    except: ActionName[] = [],
  ): Promise<[RunStatus, string]> {
    return this.step.do("outcome", STEP, async () => {
      const m = await this.ledger.getMeta();
      if (!m) throw new Error("run not found");
      return overallStatus(m, revoke, except);
    });
  }

  /**
   * A newer claim on the person ends an older run's watch (issue 10): that run is told (its ledger first,
   * then a wake-up), and the person's lock forgets it. Idempotent: a replayed step repeats it harmlessly.
   */
  private async endOlderWatch(
    lock: DurableObjectStub<LeaverLock>,
    watcher?: { runId: string; instanceId: string },
  ) {
    if (!watcher || watcher.runId === this.runId) return;
    if (await this.env.RUNS.getByName(watcher.runId).endWatch(this.runId))
      await wakeInstance(this.env.OFFBOARDING, watcher.instanceId, { type: WATCH_END_EVENT, payload: {} });
    await lock.clearWatcher(watcher.runId);
  }

  /**
   * The watch (issue 10): after the main actions, the run shows `watching` and lists the leaver's shares
   * again at each WATCH_AFTER moment, cancelling (and verifying) whatever appeared: late shares, recorded as
   * such. Between checks it does not hold the person: a newer run for them ends this watch. The run's final
   * status comes after the last check.
   */
  async watch(revoke?: [RunStatus, string]): Promise<Outcome> {
    const userId = this.userId;
    if (!userId) throw new Error("watch before resolve");
    const lock = this.env.LEAVERS.getByName(userId);
    const self = instanceId(this.runId, this.meta.attempt);
    const plan = await this.step.do("watch begins", STEP, async () => {
      const m = await this.ledger.getMeta();
      if (!m) throw new Error("run not found");
      let w = m.actions?.watch;
      if (!w?.schedule) {
        const [main, detail] = overallStatus(m, revoke, ["watch"]);
        const delays = m.request.watchAfterMs ?? this.config.WATCH_AFTER;
        const now = Date.now();
        const schedule = delays.map((d) => new Date(now + d).toISOString());
        const next = await this.ledger.setAction(
          "watch",
          {
            state: "watching",
            schedule,
            checksDone: 0,
            lateShares: 0,
            detail: `first check at ${schedule[0]}`,
          },
          {
            status: "watching",
            detail: `${main}: ${detail}; watching for late shares until ${schedule[schedule.length - 1]}`,
            waitUntil: schedule[0] as string, // WATCH_AFTER has at least one delay
          },
        );
        await auditState(this.audit, next, next.detail ?? "", await this.ledger.counts());
        w = next.actions?.watch;
      } else {
        // Resumed (the sweeper) or retried: the remaining checks go on from the recorded schedule.
        const detail = w.detail.startsWith("retry") ? "watching again" : w.detail;
        await this.ledger.setAction("watch", { state: "watching", detail }, { status: "watching" });
      }
      // Between checks the person is free: a newer run claims them and ends this watch.
      await lock.setWatcher(this.runId, self);
      const waiters = await lock.release(this.runId);
      await Promise.all(
        waiters.map((id) => wakeInstance(this.env.OFFBOARDING, id, { type: LEAVER_FREE_EVENT, payload: {} })),
      );
      return { schedule: w?.schedule ?? [], checksDone: w?.checksDone ?? 0 };
    });
    if (plan.checksDone === 0) await this.notifyChat("watching");
    await this.account().evidence();
    for (let k = plan.checksDone; k < plan.schedule.length; k++) {
      const at = Date.parse(plan.schedule[k] as string);
      if (at > Date.now()) {
        try {
          await this.step.waitForEvent(`watch wait ${k}`, {
            type: WATCH_END_EVENT,
            timeout: Math.max(1_000, at - Date.now()),
          });
        } catch (err) {
          if (isEngineAbort(err)) throw err;
          // The moment of the check came: look below.
        }
      }
      const go = await this.step.do(`watch gate ${k}`, STEP, async () => {
        const m = await this.ledger.getMeta();
        if (m?.actions?.watch?.endedBy)
          return `ended by a newer run for the same person (${m.actions.watch.endedBy})`;
        if ((await currentHolds(this.env.HOLDS)).userIds.has(userId)) {
          await this.ledger.setAction("watch", { state: "held" });
          return `KooDrive user ${userId} is on hold (user:${userId}): the watch stopped`;
        }
        const found = await userExists(this.client, this.config.KOODRIVE_DIRECTORY_USER_ID || userId, userId);
        if (!found.exists) return `KooDrive user ${userId} no longer exists: nothing left to watch`;
        const claimed = await lock.claim(this.runId, self);
        if (!("granted" in claimed)) {
          await this.ledger.endWatch(claimed.heldBy);
          return `ended by a newer run for the same person (${claimed.heldBy})`;
        }
        await this.ledger.clearWait();
        return null;
      });
      if (go) {
        await this.step.do(`watch ended ${k}`, STEP, async () => {
          await this.ledger.setAction("watch", { detail: go });
        });
        break;
      }
      await this.plan({ cancel: true, late: true, name: `watch ${k} list` });
      await this.executeAndVerify({ late: true, prefix: `watch ${k} ` });
      await this.step.do(`watch ${k} done`, STEP, async () => {
        const late = await this.ledger.lateCounts();
        const nextAt = plan.schedule[k + 1];
        const m = await this.ledger.setAction(
          "watch",
          {
            checksDone: k + 1,
            lateShares: late.late,
            detail: `${k + 1} of ${plan.schedule.length} checks done, ${late.late} late share(s)${nextAt ? `; next check at ${nextAt}` : ""}`,
          },
          { status: "watching", ...(nextAt ? { waitUntil: nextAt } : {}) },
        );
        const waiters = await lock.release(this.runId);
        await Promise.all(
          waiters.map((id) =>
            wakeInstance(this.env.OFFBOARDING, id, { type: LEAVER_FREE_EVENT, payload: {} }),
          ),
        );
        // Each check is on record; the late shares themselves are audited like every cancel (the outbox).
        await auditState(this.audit, m, `watch: ${m.actions?.watch?.detail ?? ""}`, undefined, {
          lateShares: late.late,
        });
      });
    }
    await this.step.do("watch over", STEP, async () => {
      const late = await this.ledger.lateCounts();
      const w = (await this.ledger.getMeta())?.actions?.watch;
      if (w?.state === "held") {
        await lock.clearWatcher(this.runId);
        return; // a hold is a deliberate outcome: the watch says so and stops
      }
      const done = w?.checksDone ?? 0;
      // A watch that stopped early says why (its detail was set by the gate).
      const early = done < (w?.schedule?.length ?? 0) ? `; stopped early: ${w?.detail ?? ""}` : "";
      await this.ledger.setAction(
        "watch",
        late.open > 0
          ? {
              state: "failed",
              detail: `${late.open} of ${late.late} late share(s) still active or failed${early}`,
            }
          : { state: "completed", detail: `${done} check(s), ${late.late} late share(s) cancelled${early}` },
      );
      await lock.clearWatcher(this.runId);
    });
    const result = await this.finish(...(await this.overall(revoke)), { notify: false });
    // The late shares' cancels count too: the evidence is read again when it changed.
    await this.account().evidence("evidence after the watch");
    return result;
  }

  async finishDryRun(who: { needsConfirmation?: boolean }): Promise<Outcome> {
    const counts = await this.step.do("dry run report", STEP, () => this.ledger.counts());
    const policy = this.request.approvalPolicy;
    const approval = [
      ...(who.needsConfirmation ? ["an operator to confirm the name match"] : []),
      ...(policy?.source ? [`approval (runs from ${this.request.source} need it)`] : []),
      ...(policy?.aboveShares && counts.planned > policy.aboveShares
        ? [`approval (more than ${policy.aboveShares} shares)`]
        : []),
    ];
    const note = approval.length ? ` (a real run would wait for ${approval.join(" and ")})` : "";
    return this.finish("dry_run", `dry run: ${counts.planned} share(s) would be cancelled${note}`);
  }

  /** The last step: audit flushed, status recorded, the person let go; a chat-started run posts its result. */
  async finish(status: RunStatus, detail: string, { notify = true } = {}): Promise<Outcome> {
    this.finishing = true;
    const result = await this.step.do(`finish ${status}`, STEP, async () => {
      await flushAudit({ ledger: this.ledger, audit: this.audit, meta: this.meta, subject: this.subject });
      // A run that ends while its watch is on (an error in a check) does not leave the watch showing as on:
      // it failed with the run; a retry goes on with its remaining checks.
      const before = await this.ledger.getMeta();
      if (before?.actions?.watch?.state === "watching") {
        await this.ledger.setAction("watch", {
          state: "failed",
          detail: `the run ended ${status}: ${detail}`,
        });
        if (before.koodriveUserId)
          await this.env.LEAVERS.getByName(before.koodriveUserId).clearWatcher(this.runId);
      }
      const m = await this.ledger.update({ status, detail });
      const counts = await this.ledger.counts();
      await auditState(this.audit, m, detail, counts);
      // Issue 11: the outbound event and the channels (NOTIFY_ON); never fails the run.
      await publishRunEvent(this.env, m, counts);
      await unwatchRun(this.env.AUDIT, this.runId);
      if (m.koodriveUserId) {
        const waiters = await this.env.LEAVERS.getByName(m.koodriveUserId).release(this.runId);
        // Best effort: a waiter that misses its wake-up polls anyway.
        await Promise.all(
          waiters.map((id) =>
            wakeInstance(this.env.OFFBOARDING, id, { type: LEAVER_FREE_EVENT, payload: {} }),
          ),
        );
      }
      return { status, counts };
    });
    // A run that watched posted its result when the watch began (a chat response URL does not last days).
    if (notify) await this.notifyChat(status);
    return result;
  }

  /**
   * A run waiting for approval tells the chat that started it (the plan and the Approve / Reject buttons).
   * Best effort, once (a step); an operator decides through the buttons, the API or the console.
   */
  async announceApproval(): Promise<void> {
    await this.step.do("announce awaiting approval", STEP, async () => {
      const m = await this.ledger.getMeta();
      if (!m?.approval) return;
      // The layoff guard tells the channels once per burst: the first run it holds; the later ones are in
      // the outbound events and the runs list (GET /runs?status=awaiting_approval).
      const { burst, burstThreshold = 0 } = m.request.approvalPolicy ?? {};
      const quiet = m.approval.reasons.length === 1 && burst !== undefined && burst > burstThreshold + 1;
      await publishRunEvent(this.env, m, await this.ledger.counts(), { channels: !quiet });
    });
    if (!this.request.notifyUrl) return;
    await this.step.do("notify chat (awaiting approval)", NOTIFY_STEP, async () => {
      const m = await this.ledger.getMeta();
      const url = m?.request.notifyUrl;
      if (!m?.approval || !url) return false;
      const who = personOf(this.subject);
      const blocks = approvalBlocks(this.runId, m.approval, who);
      const text = `Approval needed for ${this.runId} (${escapeSlack(who)}): ${escapeSlack(m.approval.detail)}`;
      return postToChat(url, text, { blocks });
    });
  }

  /** Posts the run's state to the chat that started it: best effort, once per state. */
  private async notifyChat(status: RunStatus): Promise<void> {
    if (!this.request.notifyUrl) return;
    await this.step.do(`notify chat${status === "watching" ? " (watching)" : ""}`, NOTIFY_STEP, async () => {
      const m = await this.ledger.getMeta();
      const url = m?.request.notifyUrl;
      if (!m || !url) return false;
      const counts = await this.ledger.counts();
      return postToChat(
        url,
        describeRun(this.runId, status, counts, m.detail ?? "", personOf(this.subject), m),
      );
    });
  }

  /** Runs `page` as steps named `<name> 0`, `<name> 1`, ... from cursor "0" until it returns no cursor. */
  private async pageThrough(name: string, page: (from: string) => Promise<string | undefined>) {
    let cursor: string | undefined = FIRST_CURSOR;
    for (let i = 0; cursor !== undefined; i++) {
      const from: string = cursor;
      const next: string | null = await this.step.do(
        `${name} ${i}`,
        STEP,
        async () => (await page(from)) ?? null,
      );
      cursor = next ?? undefined;
    }
  }
}
