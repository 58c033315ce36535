import { WorkflowEntrypoint, type WorkflowEvent, type WorkflowStep } from "cloudflare:workers";
import type { AuditStore } from "../audit/store";
import { type Bindings, loadConfig } from "../env";
import { auditStore, koodriveClient } from "../services";
import { currentHolds } from "./holds";
import { unwatchRun } from "./instances";
import { postToChat } from "./notify";
import { resolveLeaver } from "./resolve";
import { receivedRecord } from "./start";
import {
  AuditFlusher,
  cancelPending,
  cancelShares,
  flushAudit,
  limiter,
  listPages,
  planPage,
  type RunContext,
  settleAll,
} from "./steps";
import { describeRun, personOf } from "./summary";
import type { Counts, RunMeta, RunParams, RunStatus } from "./types";

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
/**
 * Workflows sleep at most 365 days [Workflows limits]. Sources refuse an effectiveAt further ahead (HR: 422,
 * MAX_EFFECTIVE_AHEAD_DAYS); this cap only guards the sleep should one slip through (a clock skew of ms).
 */
const MAX_WAIT_MS = 365 * 86_400_000;

/**
 * Every step: retried 8 times, exponentially from 3 s (about 13 minutes in all), so a KooDrive outage or a
 * long Retry-After (the client gives up inline on anything over 30 s) fails the run only after that.
 */
const STEP = {
  retries: { limit: 8, delay: "3 seconds", backoff: "exponential" },
  timeout: "10 minutes",
} as const;

/**
 * The durable revocation run: resolve the leaver, plan (list every share they created), execute (cancel
 * in batches), verify (list again), report. Each stage is a sequence of retried steps; all state lives in
 * the run's ledger (a Durable Object), so a replayed or retried step never redoes finished work. The work
 * inside the steps is in steps.ts.
 */
export class OffboardingWorkflow extends WorkflowEntrypoint<Bindings, RunParams> {
  override async run(
    event: WorkflowEvent<RunParams>,
    step: WorkflowStep,
  ): Promise<{ status: RunStatus | "superseded"; counts?: Counts }> {
    const { runId, attempt } = event.payload;
    const ledger = this.env.RUNS.getByName(runId);
    const config = loadConfig(this.env);
    const audit = auditStore(this.env.AUDIT, config);
    const client = koodriveClient(config, runId);

    const meta = await step.do(`start (attempt ${attempt})`, STEP, async () => {
      // Fencing: an instance of an older attempt (the sweeper or an admin started a newer one) stops here.
      const current = await ledger.getMeta();
      if (!current || current.attempt !== attempt) return null;
      const m = await ledger.update({ status: "running" });
      await Promise.all([
        attempt === 1 ? audit.write(receivedRecord(m.request, false, "accepted")) : undefined,
        auditState(audit, m, `attempt ${attempt} started`),
      ]);
      // Step results are stored by Workflows (and shown in the dashboard): a chat response URL, a
      // capability, stays in the ledger only.
      return m.request.notifyUrl ? { ...m, request: { ...m.request, notifyUrl: NOTIFY_URL_IN_LEDGER } } : m;
    });
    if (!meta) return { status: "superseded" };
    const request = meta.request;
    let subject = request.subject;

    let finishing = false;
    const finish = async (status: RunStatus, detail: string) => {
      finishing = true;
      const result = await step.do(`finish ${status}`, STEP, async () => {
        await flushAudit({ ledger, audit, meta, subject });
        const m = await ledger.update({ status, detail });
        const counts = await ledger.counts();
        await auditState(audit, m, detail, counts);
        await unwatchRun(this.env.AUDIT, runId);
        return { status, counts };
      });
      // A run started from chat posts its result there (best effort, once; the run is already finished).
      if (meta.request.notifyUrl) {
        await step.do("notify chat", NOTIFY_STEP, async () => {
          const url = (await ledger.getMeta())?.request.notifyUrl;
          if (!url) return false;
          return postToChat(url, describeRun(runId, status, result.counts, detail, personOf(subject)));
        });
      }
      return result;
    };

    try {
      const resolved = await step.do("resolve", STEP, async () => {
        if (meta.koodriveUserId) return { ok: true as const, userId: meta.koodriveUserId };
        const r = await resolveLeaver(request.subject, {
          kv: this.env.AUDIT,
          client,
          directoryUserId: config.KOODRIVE_DIRECTORY_USER_ID || undefined,
        });
        if (!r.ok) return { ok: false as const, detail: r.detail };
        await ledger.update({ koodriveUserId: r.userId, resolvedBy: r.by, detail: r.detail });
        return { ok: true as const, userId: r.userId };
      });
      if (!resolved.ok) return await finish("unresolved", resolved.detail);
      subject = { ...request.subject, koodriveUserId: resolved.userId };

      // A leaver whose last day is still ahead keeps their links until then: the run sleeps (durably). The
      // decision is a step, so a replay after waking takes the same path.
      if (!request.dryRun && request.effectiveAt) {
        const effectiveAt = request.effectiveAt;
        const until = await step.do("schedule", STEP, async () => {
          const at = Date.parse(effectiveAt);
          if (!(at > Date.now())) return null;
          const iso = new Date(Math.min(at, Date.now() + MAX_WAIT_MS)).toISOString();
          await ledger.update({ waitUntil: iso, detail: `waiting until ${iso}` });
          return iso;
        });
        if (until) await step.sleepUntil("wait for effectiveAt", new Date(until));
      }

      const ctx: RunContext = {
        ledger,
        holds: this.env.HOLDS,
        client,
        audit,
        meta,
        subject,
        userId: resolved.userId,
        parallelism: config.CANCEL_PARALLELISM,
        lookahead: {},
      };

      // Plan: page through every share the leaver created, PAGES_PER_STEP pages a step. Unless this is a dry
      // run, each page's shares are cancelled while the next page is listed (paging is sequential, so this
      // hides the cancels behind it). How KooDrive's cursor behaves while shares disappear is not documented:
      // if it drifts and hides some, the verify listing below (no cancels while it pages) finds them.
      await this.pageThrough(step, "plan", async (from) => {
        const holds = currentHolds(ctx.holds); // read while the first page is fetched
        holds.catch(() => {}); // awaited by the first page's handler
        const limit = limiter(ctx.parallelism);
        const flusher = new AuditFlusher(ctx);
        const cancels: Promise<unknown>[] = [];
        let next: string | undefined;
        try {
          next = await listPages(ctx, from, async (links) => {
            const fresh = await planPage(ctx, links, await holds);
            if (request.dryRun || fresh.length === 0) return;
            const cancel = limit(() => cancelShares(ctx, fresh, flusher));
            cancel.catch(() => {}); // observed by settleAll below; this only keeps it from being "unhandled"
            cancels.push(cancel);
          });
        } finally {
          await Promise.allSettled(cancels); // a failed listing still waits for the cancels it started
          await flusher.drain().catch(() => {}); // best effort here; the outbox keeps what is not written
        }
        await settleAll(cancels);
        await flusher.drain();
        return next;
      });

      if (request.dryRun) {
        const counts = await step.do("dry run report", STEP, () => ledger.counts());
        return await finish("dry_run", `dry run: ${counts.planned} share(s) would be cancelled`);
      }

      let counts: Counts | undefined;
      for (let pass = 1; pass <= MAX_PASSES; pass++) {
        // Execute: cancel whatever is still pending (left by an interrupted plan step, or discovered by the
        // previous verify), a few rounds of batches per step, until nothing is pending.
        for (let k = 0; ; k++) {
          const r = await step.do(`cancel ${pass}.${k}`, STEP, () => cancelPending(ctx));
          if (r.done) break;
        }
        // Verify: list again. Planned shares still listed are reported; shares never planned are planned now.
        // The first page's step starts from a clean slate (flags of an interrupted or earlier pass dropped).
        await this.pageThrough(step, `verify ${pass}`, async (from) => {
          const holds = currentHolds(ctx.holds);
          holds.catch(() => {});
          if (from === FIRST_CURSOR) await ledger.resetSeen();
          return listPages(ctx, from, async (links) => {
            await ledger.markSeen(links.map((s) => s.shareId));
            await planPage(ctx, links, await holds);
          });
        });
        counts = await step.do(`verify ${pass} done`, STEP, async () => {
          await ledger.finishVerify();
          await flushAudit(ctx);
          return ledger.counts();
        });
        // Execute drained everything pending, so anything planned now was discovered by this verify.
        if (counts.planned === 0) break;
      }

      if (!counts) throw new Error("no verify pass ran"); // MAX_PASSES >= 1: unreachable
      const open = counts.failed + counts.still_active + counts.planned + counts.in_flight;
      return await finish(
        open === 0 ? "completed" : "partial",
        open === 0
          ? `${counts.cancelled} cancelled, ${counts.already_gone} already gone, ${counts.skipped_hold + counts.skipped_scope} skipped`
          : `${open} share(s) still active or failed`,
      );
    } catch (err) {
      // A failing finish step is not turned into "failed" over a result it may already have recorded:
      // the instance errors and the sweeper takes it from there.
      if (finishing) throw err;
      const detail = err instanceof Error ? err.message : String(err);
      return await finish("failed", detail.slice(0, 500));
    }
  }

  /** Runs `page` as steps named `<name> 0`, `<name> 1`, ... from cursor "0" until it returns no cursor. */
  private async pageThrough(
    step: WorkflowStep,
    name: string,
    page: (from: string) => Promise<string | undefined>,
  ) {
    let cursor: string | undefined = FIRST_CURSOR;
    for (let i = 0; cursor !== undefined; i++) {
      const from: string = cursor;
      const next: string | null = await step.do(`${name} ${i}`, STEP, async () => (await page(from)) ?? null);
      cursor = next ?? undefined;
    }
  }
}

async function auditState(audit: AuditStore, meta: RunMeta, detail: string, counts?: Counts): Promise<void> {
  await audit.write({
    type: "run.state",
    actor: "workflow",
    source: meta.request.source,
    eventId: meta.request.eventId,
    runId: meta.request.runId,
    requestId: meta.request.requestId,
    subject: {
      ...meta.request.subject,
      ...(meta.koodriveUserId ? { koodriveUserId: meta.koodriveUserId } : {}),
    },
    status: meta.status,
    reason: detail,
    ...(counts ? { details: { ...counts } } : {}),
  });
}
