import { identityEmailKey, identityHrKey } from "../audit/keys";
import type { AuditStore } from "../audit/store";
import type { Bindings } from "../env";
import { cancelRun, waitingRunsOf } from "../offboarding/decide";
import type { IdentityEntry } from "../offboarding/resolve";
import { personKeysOf, RUN_INDEX_NAME } from "../offboarding/run-index";
import type { RunStatus } from "../offboarding/types";

/**
 * A reactivation (issue 11, "Scheduled runs can be changed"): an Okta `user.lifecycle.reactivate` /
 * `unsuspend` event or a SCIM user set active again. A rehire or an HR mistake must not revoke anything
 * later, so the person's waiting runs (for their `effectiveAt` or for approval) are withdrawn; a run that
 * already started acting is never stopped (cancelRun refuses it), and the record says so.
 */
export interface Reactivation {
  source: "okta" | "scim";
  /** The Okta event's uuid, or the SCIM user's id: names the reactivation in reasons and the record. */
  eventId: string;
  /** What was received, for the reasons: `okta user.lifecycle.reactivate <uuid>`, `SCIM PATCH active=true`. */
  label: string;
  /** The person exactly as the source's deprovisioning names them (never the name: a guess). */
  person: { hrId: string; email?: string | undefined; name?: string | undefined };
  /**
   * When the person was reactivated (epoch ms): only runs received before it are withdrawn. A replayed or
   * late Okta delivery cannot withdraw a run accepted after the reactivation it reports (a later leaver
   * event is a new decision).
   */
  at: number;
  requestId: string;
}

export interface ReactivationOutcome {
  /** Waiting runs this reactivation withdrew. */
  withdrawn: string[];
  /** The person's runs that had already started acting (or finished): not stopped. */
  underWay: string[];
  /** Waiting runs received after the reactivation: left alone. */
  later: string[];
}

/**
 * Statuses of a run that acted (or is acting): a reactivation cannot undo them. `running` counts only
 * when the run is not in the waiting list (a scheduled run sleeps in `running`).
 */
const ACTED: RunStatus[] = ["running", "watching", "completed", "partial", "failed"];
/** The person's acted runs named in the record: the newest few (an admin opens the person's runs for more). */
const MAX_UNDER_WAY_LISTED = 10;
/** Run ids listed in one record's details (waitingRunsOf scans at most 200; a record stays small). */
const MAX_IDS_IN_RECORD = 50;

/**
 * The person's KooDrive id through the identity map (e-mail, then HR id: the order resolveLeaver uses), so
 * a waiting run the HR event named by another identifier but resolved to the same mapped user is found.
 * The map is exact and admin-curated; KooDrive's own look-ups (and name matches) are not used here.
 */
async function mappedUser(env: Bindings, person: Reactivation["person"]): Promise<string | undefined> {
  const keys = [
    ...(person.email ? [await identityEmailKey(person.email)] : []),
    await identityHrKey(person.hrId),
  ];
  for (const key of keys) {
    const entry = await env.AUDIT.get<IdentityEntry>(key, "json");
    if (entry?.koodriveUserId) return entry.koodriveUserId;
  }
  return undefined;
}

const listed = (ids: string[]) => ids.slice(0, MAX_IDS_IN_RECORD).join(",");

/**
 * Withdraws the person's waiting runs and records the reactivation once: one `request.received` record
 * (status `reactivated`) naming the runs withdrawn (possibly none) and the runs already under way. Each
 * withdrawal is also recorded by cancelRun (`run.cancel`). A run cancelRun refuses as already withdrawn is
 * fine (a concurrent delivery); one it refuses otherwise started acting meanwhile and is reported under way.
 */
export async function withdrawWaitingRuns(
  env: Bindings,
  audit: AuditStore,
  r: Reactivation,
): Promise<ReactivationOutcome> {
  const email = r.person.email?.trim().toLowerCase();
  const koodriveUserId = await mappedUser(env, r.person);
  const person = {
    hrId: r.person.hrId,
    ...(email ? { email } : {}),
    ...(koodriveUserId ? { koodriveUserId } : {}),
  };
  const actor = `source:${r.source}`;
  const reason = `${r.label}: the person was reactivated`;
  const out: ReactivationOutcome = { withdrawn: [], underWay: [], later: [] };

  const waiting = await waitingRunsOf(env, person);
  for (const runId of waiting) {
    const meta = await env.RUNS.getByName(runId).getMeta();
    if (!meta) continue;
    if (Date.parse(meta.request.receivedAt) > r.at) {
      out.later.push(runId);
      continue;
    }
    const result = await cancelRun(env, runId, reason, actor, r.requestId);
    if (result.ok) out.withdrawn.push(runId);
    else if (result.code === "conflict") {
      // Withdrawn already (a concurrent delivery of the same reactivation): nothing to do twice.
      const now = await env.RUNS.getByName(runId).getMeta();
      if (now?.status !== "withdrawn") out.underWay.push(runId);
    }
  }

  const { runs } = await env.RUN_INDEX.getByName(RUN_INDEX_NAME).list({
    personKeys: personKeysOf({ ...person }).filter((k) => !k.startsWith("name:")),
    statuses: ACTED,
    limit: MAX_UNDER_WAY_LISTED,
  });
  for (const row of runs) {
    if (row.dryRun || waiting.includes(row.runId) || out.underWay.includes(row.runId)) continue;
    if (Date.parse(row.createdAt) > r.at) continue;
    out.underWay.push(row.runId);
  }

  const what =
    out.withdrawn.length > 0
      ? `withdrew ${out.withdrawn.length} waiting run(s)`
      : "no waiting run to withdraw";
  const began =
    out.underWay.length > 0
      ? `; reactivated after the revocation began: ${out.underWay.length} run(s) already acting or finished, not stopped`
      : "";
  await audit.write({
    type: "request.received",
    actor,
    source: r.source,
    eventId: r.eventId,
    requestId: r.requestId,
    subject: {
      hrId: r.person.hrId,
      ...(email ? { email } : {}),
      ...(r.person.name ? { name: r.person.name } : {}),
    },
    status: "reactivated",
    reason: `${reason}; ${what}${began}`.slice(0, 500),
    details: {
      verified: true,
      withdrawn: listed(out.withdrawn),
      underWay: listed(out.underWay),
      ...(out.later.length ? { later: listed(out.later) } : {}),
    },
  });
  return out;
}
