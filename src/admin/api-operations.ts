/**
 * Every operation of the admin API, for the OpenAPI document (openapi.ts) and the console's API reference.
 * The request schemas are the ones the routes validate with (imported, never restated), and
 * test/openapi.test.ts fails when a route is added without an entry here, or an entry names no route.
 */
import * as z from "zod";
import { ApproveBody, CancelBody, RejectBody, RescheduleBody } from "./approvals";
import { EventsQuery, ResendParams } from "./events";
import { HoldParams, PostHoldsBody, PutHoldsBody } from "./holds";
import { IdentitiesBody } from "./identities";
import { OffboardingBody } from "./offboardings";
import type { Operation } from "./openapi";
import { ReindexQuery } from "./reindex";
import { AuditQuery, ConfirmBody, ExportQuery, RetryBody } from "./routes";
import { RunQuery } from "./run-view";
import { RunsQuery } from "./runs-list";
import { ConfirmSuggestionsBody, DismissSuggestionsBody, SuggestionsQuery } from "./suggestions/routes";
import { CreateTokenBody } from "./tokens/routes";

const RunParams = z.object({ runId: z.string().describe("The run id (`hr-...`, `api-...`, ...).") });
const IdentityParams = z.object({
  key: z.string().describe("An e-mail, `email:<e-mail>` or `hr:<HR id>`."),
});
const TokenParams = z.object({ id: z.string().describe("The token's id (a UUID), from GET /tokens.") });

const IF_MATCH = {
  "If-Match": {
    description: 'The version from `GET /holds` (`"7"`), or `*` to overwrite whatever is there.',
    required: true,
  },
};

export const ADMIN_OPERATIONS: readonly Operation[] = [
  {
    method: "get",
    path: "/governor",
    tag: "Runs",
    role: "viewer",
    summary: "The KooDrive rate governor: current rate, ceiling, pause, waiting runs, recent 429s",
    description:
      "One governor per KooDrive app paces every run's calls. `rate` falls on 429s and climbs back toward " +
      "`ceiling` (KOODRIVE_MAX_RPS); `learnedLimit` is the rate at the latest 429 that cut it (kept in " +
      "storage for a week); `pausedUntil` is set while everyone waits out a Retry-After. The counters are in " +
      "memory: after a restart they start again.",
    responses: {
      200: "`{enabled, rate, ceiling, learnedLimit, pausedUntil, waiting, recent429s, total429s, ...}`",
    },
  },
  {
    method: "post",
    path: "/governor/reset",
    tag: "Runs",
    role: "admin",
    summary: "Make the rate governor forget the KooDrive limit it learned",
    description:
      "For when KooDrive's limit for the app was raised: the governor drops `learnedLimit` (in storage " +
      "too) and slow-starts again from 20 requests/s (or a lower KOODRIVE_MAX_RPS). Audited " +
      "(`admin.governor`).",
    responses: { 200: "The governor's state after the reset, as `GET /governor`." },
  },
  {
    method: "get",
    path: "/runs",
    tag: "Runs",
    role: "viewer",
    summary: "List runs, newest first, with counts per status",
    description:
      "Filters combine; `status` and `source` take comma lists. `counts` are for the same filters without " +
      "the status filter. Follow `nextCursor` for the next page.",
    query: RunsQuery,
    responses: { 200: "`{runs, counts, nextCursor?}`", 400: "A bad filter or cursor." },
  },
  {
    method: "post",
    path: "/offboardings",
    tag: "Runs",
    role: "operator",
    summary: "Start an offboarding (or a dry run) for a person",
    description:
      "Same rules as an HR event: holds, one run per person at a time, identity-map resolution. Source " +
      "`api`; the verified identity is recorded as who started it. `actions` may ask for fewer actions " +
      "than the policy allows (never more); `handoverTo` names who receives the files.",
    json: OffboardingBody,
    headers: {
      "Idempotency-Key": { description: "The same key (per caller) returns the same run, as a duplicate." },
    },
    responses: {
      202: "`{runId, status, url, duplicate?}`; `Location` names the run.",
      422:
        "Invalid body; actions beyond OFFBOARDING_ACTIONS (or unknown, or none); a handoverTo without the " +
        "handover action or naming the person; or a reused Idempotency-Key with another body. Nothing is started.",
    },
  },
  {
    method: "post",
    path: "/runs/reindex",
    tag: "Runs",
    role: "admin",
    summary: "Fill the runs index from the audit trail (runs from before 0.3)",
    query: ReindexQuery,
    responses: { 200: "`{runs, indexed, missing, nextCursor?}`: call again with `nextCursor` until absent." },
  },
  {
    method: "get",
    path: "/runs/:runId",
    tag: "Runs",
    role: "viewer",
    summary: "A run: status, resolution, actions, evidence, plan, counts and per-share outcomes (paged)",
    description:
      "`actions`: the run's requested actions in the order they run (`revoke_shares`, `handover`, " +
      "`block_login`, `watch`), each `{action, state, detail, updatedAt, recipient?, tasks?, blockedAt?, " +
      "schedule?, checksDone?, nextCheck?, lateShares?, endedBy?}`; a run from before 0.4 lists " +
      "`revoke_shares` alone, its state derived from the run's status and counts. `evidence`: KooDrive's " +
      "audit log's view of the cancels, `{found, of, from, to, entriesRead, complete, operatorName?, checkedAt, summary}` " +
      '(`summary`: "KooDrive\'s audit log shows N of M cancellations"), or null until it was read. ' +
      "Status `watching`: the main actions are done and the run waits for the watch's next check.",
    params: RunParams,
    query: RunQuery,
    responses: {
      200: "`{runId, status, ..., counts, actions, evidence, plan, shares, nextCursor?}`",
      404: "No such run.",
    },
  },
  {
    method: "get",
    path: "/runs/:runId/export",
    tag: "Runs",
    role: "viewer",
    summary:
      "Every share of a run, or its actions and evidence, as CSV or NDJSON (CSV is formula-injection safe)",
    description:
      "`part=shares` (default) streams every share and its outcome (`late`: found by the watch); " +
      "`part=actions` gives one row per requested action with its outcome, the handover's recipient and " +
      "tasks, the watch's schedule and late shares, and KooDrive's audit-log evidence on the " +
      "`revoke_shares` row.",
    params: RunParams,
    query: ExportQuery,
    responses: {
      200: { description: "The shares, or the actions.", contentType: "text/csv" },
      404: "No such run.",
    },
  },
  {
    method: "post",
    path: "/runs/:runId/retry",
    tag: "Runs",
    role: "operator",
    summary: "Retry a partial, failed or unresolved run (optionally naming the handover's recipient)",
    description:
      "Only what is left is done again: failed and still-active shares, a handover that did not complete, " +
      "a block that did not. The body is optional; `handoverTo` (an e-mail, a 19-digit KooDrive id or an HR " +
      "id) names who receives the files, tried alone (no fallback), never the leaver.",
    params: RunParams,
    json: RetryBody,
    responses: {
      202: "`{runId, status, attempt, requeued}`",
      404: "No such run.",
      409: "Not retryable, or `handoverTo` for a run without the handover action.",
      422: "The body is not JSON or `handoverTo` is not a person.",
    },
  },
  {
    method: "post",
    path: "/runs/:runId/confirm",
    tag: "Runs",
    role: "operator",
    summary: "Confirm the name match a run waits for (its candidate only, once)",
    params: RunParams,
    json: ConfirmBody,
    responses: { 202: "The run goes on.", 404: "No such run.", 409: "Not its candidate, or not waiting." },
  },
  {
    method: "post",
    path: "/runs/:runId/approve",
    tag: "Runs",
    role: "operator",
    summary: "Approve a run waiting for approval (four eyes: not the requester; once)",
    description:
      "The run executes the plan it showed (`approval.planShares`, `approval.planDigest`); the verify pass " +
      "still catches shares created meanwhile. A name match needs `koodriveUserId`: the candidate's id.",
    params: RunParams,
    json: ApproveBody,
    responses: {
      202: "`{runId, status, decision}`",
      403: "The requester cannot decide their own run (four eyes).",
      404: "No such run.",
      409: "Not awaiting approval, already decided, the window closed, or not the candidate's id.",
      422: "A bad body.",
    },
  },
  {
    method: "post",
    path: "/runs/:runId/reject",
    tag: "Runs",
    role: "operator",
    summary: "Reject a run waiting for approval: it ends `rejected`, nothing done",
    params: RunParams,
    json: RejectBody,
    responses: {
      202: "`{runId, status, decision}`",
      403: "The requester cannot decide their own run (four eyes).",
      404: "No such run.",
      409: "Not awaiting approval, already decided, or the window closed.",
      422: "A reason is required.",
    },
  },
  {
    method: "post",
    path: "/runs/:runId/cancel",
    tag: "Runs",
    role: "operator",
    summary: "Withdraw a run waiting for its effectiveAt or for approval: it ends `withdrawn`, nothing done",
    params: RunParams,
    json: CancelBody,
    responses: {
      200: "`{runId, status, withdrawnBy}`",
      404: "No such run.",
      409: "The run already acts, or has ended.",
      422: "A reason is required.",
    },
  },
  {
    method: "post",
    path: "/runs/:runId/reschedule",
    tag: "Runs",
    role: "operator",
    summary: "Move the effectiveAt of a run waiting for it",
    params: RunParams,
    json: RescheduleBody,
    responses: {
      200: "`{runId, status, effectiveAt}`",
      404: "No such run.",
      409: "The run does not wait for its effectiveAt (any more).",
      422: "Not a future ISO 8601 date-time within 365 days.",
    },
  },
  {
    method: "get",
    path: "/events",
    tag: "Runs",
    role: "viewer",
    summary: "A run's outbound events and notifications, with each delivery's state and attempts",
    description:
      "Every event the run published (docs/events.md), oldest first, each with its deliveries: the " +
      "destination's label (`outbound#1`, `slack#1`, `teams#1`: its position in the setting, never its URL), " +
      "`state` (pending, delivered, dead), `attempts`, the last HTTP status or error class, and when; and " +
      "`attempts`, each POST (the newest 20 per delivery): its destination label, number, time, HTTP status " +
      "or error class and duration. Events settled longer than AUDIT_RETENTION_DAYS ago are purged.",
    query: EventsQuery,
    responses: {
      200: "`{runId, events: [{id, type, createdAt, deliveries, attempts}]}`",
      400: "Not a run id.",
    },
  },
  {
    method: "post",
    path: "/runs/:runId/events/:eventId/resend",
    tag: "Runs",
    role: "operator",
    summary: "Send an event again to every destination that has not taken it",
    description:
      "Deliveries not yet delivered (dead-lettered ones included) go back to `pending` and are queued again, " +
      "with the same `webhook-id` (receivers dedupe). Delivered ones are left alone. Audited (`admin.events`).",
    params: ResendParams,
    responses: {
      200: "`{runId, eventId, resent: [labels]}`",
      400: "Not a run id or event id.",
      404: "The run has no such event.",
    },
  },
  {
    method: "get",
    path: "/audit",
    tag: "Audit",
    role: "viewer",
    summary: "Audit records, newest first",
    query: AuditQuery,
    responses: { 200: "`{records, nextCursor?}`", 400: "A bad cursor or date." },
  },
  {
    method: "get",
    path: "/holds",
    tag: "Holds",
    role: "viewer",
    summary: "Every hold, with the version (`ETag`) to send as If-Match",
    responses: { 200: "`{version, holds}`" },
  },
  {
    method: "put",
    path: "/holds",
    tag: "Holds",
    role: "admin",
    summary: "Replace every hold",
    json: PutHoldsBody,
    headers: IF_MATCH,
    responses: { 200: "The change and the new holds.", 412: "Stale If-Match.", 428: "No If-Match." },
  },
  {
    method: "post",
    path: "/holds",
    tag: "Holds",
    role: "admin",
    summary: "Add holds (one, or `{holds: [...]}`)",
    json: PostHoldsBody,
    responses: { 200: "The change and the new version.", 412: "Stale If-Match (when sent)." },
  },
  {
    method: "delete",
    path: "/holds/:type/:id",
    tag: "Holds",
    role: "admin",
    summary: "Remove one hold",
    params: HoldParams,
    responses: { 200: "The change and the new version.", 404: "No such hold." },
  },
  {
    method: "put",
    path: "/identities",
    tag: "Identities",
    role: "admin",
    summary: "Bulk-load the identity map (JSON or CSV; all rows or none)",
    json: IdentitiesBody,
    description:
      "Also accepts `text/csv` (RFC 4180) with a header naming `email`, `hrId`, `koodriveUserId`, `name`; " +
      "a CSV error names its row.",
    responses: {
      200: "`{stored, keys, added, remapped, updated, unchanged}`",
      422: "A bad row: nothing stored.",
    },
  },
  {
    method: "get",
    path: "/identities/:key",
    tag: "Identities",
    role: "viewer",
    summary: "One identity-map entry",
    params: IdentityParams,
    responses: { 200: "The entry.", 404: "No entry for that key." },
  },
  {
    method: "get",
    path: "/identities/suggestions",
    tag: "Identities",
    role: "viewer",
    summary: "People seen from HR, Okta or SCIM without a mapping, beside KooDrive users of the same name",
    query: SuggestionsQuery,
    responses: { 200: "`{suggestions, nextCursor?}`", 400: "A bad cursor or limit." },
  },
  {
    method: "post",
    path: "/identities/suggestions/confirm",
    tag: "Identities",
    role: "admin",
    summary: "Confirm suggested matches (all or nothing), written like PUT /identities",
    json: ConfirmSuggestionsBody,
    responses: { 200: "What was stored.", 409: "An item is no longer a suggestion or not a candidate." },
  },
  {
    method: "post",
    path: "/identities/suggestions/dismiss",
    tag: "Identities",
    role: "admin",
    summary: "Hide suggested people (also when seen again)",
    json: DismissSuggestionsBody,
    responses: { 200: "What was dismissed.", 409: "A key is not a suggestion." },
  },
  {
    method: "post",
    path: "/tokens",
    tag: "API tokens",
    role: "admin",
    summary: "Create an API token: the secret is in this answer only",
    json: CreateTokenBody,
    responses: {
      201: "`{id, token, name, role, expiresAt, createdBy}`",
      409: "Duplicate name, or too many.",
    },
  },
  {
    method: "get",
    path: "/tokens",
    tag: "API tokens",
    role: "admin",
    summary: "List API tokens (never their secrets)",
    responses: { 200: "`{tokens}`" },
  },
  {
    method: "delete",
    path: "/tokens/:id",
    tag: "API tokens",
    role: "admin",
    summary: "Revoke an API token at once",
    params: TokenParams,
    responses: { 200: "Revoked.", 404: "No such token." },
  },
];
