import * as z from "zod";

/** What happened. Stable names: exports and SIEM rules depend on them. */
export const AuditType = z.enum([
  "request.received",
  "request.rejected",
  "request.duplicate",
  "run.state",
  "shares.planned",
  "shares.cancelled",
  "shares.skipped",
  "shares.failed",
  "admin.identities",
  "admin.holds",
  "admin.retry",
  "admin.export",
  "admin.confirm",
  /** A SCIM request changed a user (created, updated, deactivated, reactivated, deleted): see `status`. */
  "scim.user",
]);
export type AuditType = z.infer<typeof AuditType>;

export const AuditShare = z.object({
  shareId: z.string(),
  outcome: z.string(),
  scope: z.number().optional(),
  displayName: z.string().optional(),
  code: z.string().optional(),
  msg: z.string().optional(),
});
export type AuditShare = z.infer<typeof AuditShare>;

export const AuditSubject = z.object({
  hrId: z.string().optional(),
  email: z.string().optional(),
  name: z.string().optional(),
  koodriveUserId: z.string().optional(),
});
export type AuditSubject = z.infer<typeof AuditSubject>;

/** Whether an identifier a source sends (a login, a userName) is an e-mail address, to use as one. */
export const looksLikeEmail = (value: string) => /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(value.trim());

/**
 * One audit record: who, what, when, why, and the request id that ties it to logs.
 * Never holds secrets, signatures or tokens: only the fields below are ever written.
 */
export const AuditRecord = z.object({
  id: z.string(),
  at: z.string(),
  type: AuditType,
  /** Who acted: `source:hr`, `admin`, `workflow`. */
  actor: z.string(),
  source: z.string().optional(),
  eventId: z.string().optional(),
  runId: z.string().optional(),
  requestId: z.string().optional(),
  subject: AuditSubject.optional(),
  /** Why: the event's reason, a rejection reason, a state. */
  reason: z.string().optional(),
  status: z.string().optional(),
  clientIp: z.string().optional(),
  shares: z.array(AuditShare).optional(),
  details: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])).optional(),
});
export type AuditRecord = z.infer<typeof AuditRecord>;
export type AuditInput = Omit<AuditRecord, "id" | "at"> & { at?: string };
