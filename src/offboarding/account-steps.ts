import type { WorkflowStep } from "cloudflare:workers";
import type { AuditStore } from "../audit/store";
import type { Config } from "../env";
import { type KooDriveClient, KooDriveError } from "../koodrive/client";
import { evidenceText } from "./action-view";
import {
  type ActionName,
  type ActionOutcome,
  type ActionOutcomes,
  actionsOf,
  type Evidence,
  type Recipient,
  TASK_STATUS,
} from "./actions";
import { readEvidence } from "./evidence";
import {
  type AccountDeps,
  blockLogin,
  chooseRecipient,
  ensureTask,
  nextPoll,
  pollTask,
  recipientFoundBy,
} from "./handover";
import type { RunLedger } from "./ledger";
import { auditState, STEP } from "./steps";
import type { RunMeta, RunStatus } from "./types";

/**
 * The leaver's account beyond the shares (issue 10): the handover, the login block, the dry run's account
 * plan, the evidence read and the run's overall status from its actions' outcomes. Each is a sequence of
 * durable steps over the run's ledger; the outcome of every action lives in the ledger's meta
 * (`RunMeta.actions`), so a replayed or retried step never redoes finished work.
 */

/** Evidence read: one attempt and a few retries; a failure only leaves the report without it. */
const EVIDENCE_STEP = {
  retries: { limit: 2, delay: "2 seconds", backoff: "exponential" },
  timeout: "5 minutes",
} as const;
/**
 * No audit-log page is asked for once the evidence step has run this long: each call may wait up to 60 s for
 * a permit as background work (governor/bucket.ts BACKGROUND_MAX_WAIT_MS), so a page started by then ends
 * inside the step's 5-minute timeout, and a slow layoff gives an incomplete read rather than none.
 */
export const EVIDENCE_READ_BUDGET_MS = 3 * 60_000;

const taskState = (status: number | undefined) =>
  status === TASK_STATUS.NEW ? "NEW" : status === TASK_STATUS.EXECUTING ? "EXECUTING" : String(status);

const recipientText = (r: Recipient) => `${r.name ? `${r.name} (${r.koodriveUserId})` : r.koodriveUserId}`;

export class AccountSteps {
  constructor(
    private readonly step: WorkflowStep,
    private readonly ledger: DurableObjectStub<RunLedger>,
    private readonly audit: AuditStore,
    private readonly config: Config,
    private readonly deps: {
      client: KooDriveClient;
      kv: KVNamespace;
      userId: string;
      /**
       * The evidence read's client: its calls wait in the rate governor's queue under their own name, behind
       * the runs that were already waiting (a finished run's report must not take their turn in a layoff).
       */
      evidenceClient?: KooDriveClient;
    },
  ) {}

  private get account(): AccountDeps {
    return {
      ledger: this.ledger,
      client: this.deps.client,
      kv: this.deps.kv,
      // Task and user calls act as the directory user (the config requires it when these actions are on).
      acting: this.config.KOODRIVE_DIRECTORY_USER_ID || this.deps.userId,
      userId: this.deps.userId,
    };
  }

  /** Records an action's outcome and audits it (a state change of the run, with the action named). */
  private async record(
    action: ActionName,
    patch: Partial<ActionOutcome> & Pick<ActionOutcome, "state" | "detail">,
  ) {
    const m = await this.ledger.setAction(action, patch);
    await auditState(this.audit, m, `${action}: ${patch.state}: ${patch.detail}`, undefined, {
      action,
      actionState: patch.state,
    });
    return m;
  }

  /** An action a hold on the person stopped. */
  async held(action: ActionName, holdDetail: string): Promise<void> {
    await this.step.do(`${action} held`, STEP, async () => {
      const done = (await this.ledger.getMeta())?.actions?.[action]?.state;
      if (done === "completed" || done === "held") return;
      await this.record(action, { state: "held", detail: holdDetail });
    });
  }

  /**
   * The handover: choose the recipient, create the task once, poll it with durable sleeps (30 s doubling to
   * 15 min) until it succeeds, fails, or HANDOVER_TIMEOUT_HOURS pass.
   */
  async handover(): Promise<void> {
    const chosen = await this.step.do("handover recipient", STEP, async () => {
      const m = await this.ledger.getMeta();
      if (!m) throw new Error("run not found");
      const h = m.actions?.handover;
      if (h?.state === "completed") return null;
      if (h?.recipient) {
        // Chosen by an earlier attempt (its task still in progress in KooDrive): polled again, for them.
        if (h.state !== "running")
          await this.ledger.setAction("handover", {
            state: "running",
            detail: `polling the handover task to ${recipientText(h.recipient)} again`,
          });
        return h.recipient;
      }
      const c = await chooseRecipient(this.account, m, this.config.HANDOVER_DEFAULT_USER_ID);
      if ("none" in c) {
        await this.record("handover", { state: "needs_recipient", detail: c.none });
        return null;
      }
      await this.record("handover", {
        state: "running",
        recipient: c.recipient,
        detail: `handing the files over to ${recipientText(c.recipient)}, ${c.note}`,
      });
      return c.recipient;
    });
    if (!chosen) return;
    const created = await this.step.do("handover task", STEP, async () => {
      const r = await ensureTask(this.account, chosen.koodriveUserId);
      if ("failed" in r) {
        await this.record("handover", { state: "failed", detail: r.failed });
        return null;
      }
      return "completed" in r ? { ...r.completed, done: true } : { ...r.task, done: false };
    });
    if (!created || created.done) {
      if (created?.done) await this.settleHandover(chosen, created, TASK_STATUS.SUCCESS, undefined);
      return;
    }
    const timeoutMs = this.config.HANDOVER_TIMEOUT_HOURS * 3_600_000;
    for (let i = 0; ; i++) {
      const polled = await this.step.do(`handover poll ${i}`, STEP, async () => {
        const t = await pollTask(this.account, created.taskId);
        if (t.status === TASK_STATUS.SUCCESS || t.status === TASK_STATUS.FAILED) {
          await this.settleHandover(chosen, t, t.status, t.resultCode);
          return null;
        }
        const next = nextPoll(t.createdAt, Date.now(), timeoutMs, i);
        if (next.giveUp) {
          await this.record("handover", {
            state: "failed",
            detail: `task ${t.taskId} is still ${taskState(t.status)} after ${this.config.HANDOVER_TIMEOUT_HOURS} h (HANDOVER_TIMEOUT_HOURS); check it in KooDrive, then retry the run`,
          });
          return null;
        }
        const delay = next.waitMs;
        // The sweeper leaves the run alone while it sleeps between polls.
        await this.ledger.update({ waitUntil: new Date(Date.now() + delay).toISOString() });
        return delay;
      });
      if (polled === null) break;
      await this.step.sleep(`handover wait ${i}`, polled);
    }
  }

  /**
   * Records how the task ended. The task says who received the files: should it be for someone else than
   * the recipient chosen now (it was made by an earlier attempt), the record names the task's recipient.
   */
  private async settleHandover(
    chosen: Recipient,
    task: { taskId: string; recipient: string },
    status: number,
    resultCode: string | undefined,
  ) {
    const taskId = task.taskId;
    await this.ledger.clearWait();
    const to = task.recipient === chosen.koodriveUserId ? chosen : undefined;
    if (status === TASK_STATUS.SUCCESS)
      await this.record("handover", {
        state: "completed",
        detail: to
          ? `files handed over to ${recipientText(to)} (${recipientFoundBy(to)}); task ${taskId}`
          : `files handed over to KooDrive user ${task.recipient} (the task an earlier attempt created); task ${taskId}`,
        ...(to ? {} : { recipient: { koodriveUserId: task.recipient, foundBy: chosen.foundBy } }),
      });
    else
      await this.record("handover", {
        state: "failed",
        detail: `task ${taskId} failed with resultCode ${resultCode ?? "(none)"}; retry the run to create a new task`,
      });
  }

  /** block_login, after the handover settled; a user already disabled by this run is not called again. */
  async blockLogin(): Promise<void> {
    await this.step.do("block login", STEP, async () => {
      const m = await this.ledger.getMeta();
      if (m?.actions?.block_login?.state === "completed") return;
      const handedOver = m?.actions?.handover?.state === "completed";
      const r = await blockLogin(this.account, handedOver);
      if (r.ok)
        await this.record("block_login", {
          state: "completed",
          detail: r.detail,
          blockedAt: new Date().toISOString(),
        });
      else await this.record("block_login", { state: "failed", detail: r.detail });
    });
  }

  /**
   * A dry run's account plan: who would receive the files and how they were found (or that nobody was),
   * whether the login would be blocked, the watch schedule. Reads only (dstUserInfo, the identity map).
   */
  async dryRun(actions: readonly ActionName[], holdDetail: string | null): Promise<void> {
    await this.step.do("dry run actions", STEP, async () => {
      const m = await this.ledger.getMeta();
      if (!m) throw new Error("run not found");
      for (const action of actions) {
        if (action === "revoke_shares") continue; // the plan (shares by scope, holds) is the ledger's
        if (holdDetail) {
          await this.ledger.setAction(action, { state: "held", detail: `would do nothing: ${holdDetail}` });
          continue;
        }
        let detail: string;
        if (action === "handover") {
          const c = await chooseRecipient(this.account, m, this.config.HANDOVER_DEFAULT_USER_ID);
          detail =
            "none" in c
              ? `would end needs_recipient: ${c.none}`
              : `would hand the files over to ${recipientText(c.recipient)}, ${c.note}`;
          if (!("none" in c))
            await this.ledger.setAction(action, { state: "dry_run", detail, recipient: c.recipient });
          else await this.ledger.setAction(action, { state: "dry_run", detail });
          continue;
        }
        if (action === "block_login")
          detail = `would disable KooDrive user ${this.deps.userId} (they could not sign in)`;
        else {
          const after = m.request.watchAfterMs ?? this.config.WATCH_AFTER;
          detail = `would list their shares again ${after.map(formatDelay).join(", ")} after the run and cancel any new one`;
        }
        await this.ledger.setAction(action, { state: "dry_run", detail });
      }
    });
  }

  /** Reads KooDrive's audit log for the run's cancels (best effort: a failure leaves the report without it). */
  async evidence(name = "evidence"): Promise<void> {
    if (this.config.EVIDENCE_MAX_PAGES === 0) return;
    try {
      await this.step.do(name, EVIDENCE_STEP, async () => {
        const m = await this.ledger.getMeta();
        if (!m) return;
        const cancelled = (await this.ledger.counts()).cancelled;
        // Read again only when the run cancelled more since (a retry, the watch's late shares).
        if (cancelled === 0 || m.evidence?.of === cancelled) return;
        let e: Evidence;
        try {
          const span = (await this.ledger.cancelSpan()) ?? {
            first: m.createdAt,
            last: new Date().toISOString(),
          };
          const reader = { ...this.account, client: this.deps.evidenceClient ?? this.deps.client };
          e = await readEvidence(
            reader,
            { ...span, cancelled },
            this.config.EVIDENCE_MAX_PAGES,
            m.koodriveUserId === this.deps.userId ? m.koodriveName : undefined,
            Date.now() + EVIDENCE_READ_BUDGET_MS,
          );
        } catch (err) {
          // KooDrive refused the read (no permission on the log, the acting user gone): asking again will not
          // help. The report goes without evidence; the log says why. Anything else is retried.
          if (!(err instanceof KooDriveError) || err.retryable) throw err;
          console.warn(
            JSON.stringify({
              level: "warn",
              msg: "evidence not read",
              runId: m.request.runId,
              error: err.message,
            }),
          );
          return;
        }
        const next = await this.ledger.setEvidence(e);
        await auditState(this.audit, next, evidenceText(e), undefined, {
          evidenceFound: e.found,
          evidenceOf: e.of,
        });
      });
    } catch {
      // The run's result stands without the evidence; the step's failure is in the Workflow's history.
    }
  }
}

/** `1h`, `24h`, `7d` back from milliseconds (for reports). */
export function formatDelay(ms: number): string {
  const units: Array<[number, string]> = [
    [86_400_000, "d"],
    [3_600_000, "h"],
    [60_000, "m"],
    [1_000, "s"],
  ];
  for (const [size, unit] of units) if (ms % size === 0) return `${ms / size}${unit}`;
  return `${ms}ms`;
}

/**
 * A run's status from its actions' outcomes: `completed` only when every requested action completed (a
 * hold is a deliberate outcome and counts as done); otherwise `partial`, naming each action that did not
 * complete and why. A run of revoke_shares alone keeps the status and words it always had.
 */
export function overallStatus(
  meta: Pick<RunMeta, "request" | "actions">,
  revoke: [RunStatus, string] | undefined,
  except: ActionName[] = [],
): [RunStatus, string] {
  const actions = actionsOf(meta.request).filter((a) => !except.includes(a));
  const outcomes: ActionOutcomes = meta.actions ?? {};
  if (actions.length === 1 && actions[0] === "revoke_shares" && revoke) return revoke;
  const open = actions.filter((a) => {
    const state = outcomes[a]?.state;
    return state !== "completed" && state !== "held";
  });
  const line = (a: ActionName) => `${a}: ${outcomes[a]?.state ?? "not run"} (${outcomes[a]?.detail ?? ""})`;
  if (open.length === 0) return ["completed", actions.map(line).join("; ")];
  return ["partial", open.map(line).join("; ")];
}
