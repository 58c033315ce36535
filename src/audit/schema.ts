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
  /** An admin filled the runs index from the audit trail (`POST /runs/reindex`). */
  "admin.reindex",
  /** An admin reset the rate governor (`POST /governor/reset`): the learned limit and rates before/after. */
  "admin.governor",
  /** An API token was created or revoked (`status`): its id, name, role and expiry, never the token. */
  "admin.tokens",
  /** A verified admin identity was refused a route its role does not allow (403). */
  "admin.denied",
  /** A SCIM request changed a user (created, updated, deactivated, reactivated, deleted): see `status`. */
  "scim.user",
  /** An approval decision on a run (issue 11): `status` approved, rejected or refused; who, via, the plan. */
  "run.decision",
  /** A waiting run cancelled (`POST /runs/:id/cancel`, a reactivation), or the cancel refused. */
  "run.cancel",
  /** A waiting run's effectiveAt moved (`POST /runs/:id/reschedule`), or the move refused. */
  "run.reschedule",
  /** An outbound event's undelivered deliveries re-sent (`POST /runs/:id/events/:eventId/resend`). */
  "admin.events",
]);
export type AuditType = z.infer<typeof AuditType>;

export const AuditShare = z.object({
  shareId: z.string(),
  outcome: z.string(),
  scope: z.number().optional(),
  displayName: z.string().optional(),
  code: z.string().optional(),
  msg: z.string().optional(),
  /** Found by a watch check after the run's main pass (issue 10). */
  late: z.boolean().optional(),
});
export type AuditShare = z.infer<typeof AuditShare>;

export const AuditSubject = z.object({
  hrId: z.string().optional(),
  email: z.string().optional(),
  name: z.string().optional(),
  koodriveUserId: z.string().optional(),
});
export type AuditSubject = z.infer<typeof AuditSubject>;

/** The longest e-mail address accepted (the identity map's and the sources' limit). */
export const MAX_EMAIL_LENGTH = 320;

/** One atom of a local part: letters, marks and digits of any script, and the RFC 5322 `atext` symbols. */
const ATOM = "[\\p{L}\\p{M}\\p{N}!#$%&'*+/=?^_`{|}~-]+";
/** One domain label (IDN labels in Unicode form included): no leading or trailing hyphen, at most 63. */
const LABEL = "[\\p{L}\\p{M}\\p{N}](?:[\\p{L}\\p{M}\\p{N}-]{0,61}[\\p{L}\\p{M}\\p{N}])?";

/**
 * An e-mail address as people have them, internationalised ones included (`jörg@exämple.de`: UTF-8 local
 * parts, RFC 6531; IDN domains, RFC 5890): a local part of at most 64 characters made of dot-separated
 * atoms, `@`, then two or more dot-separated labels ending in a top-level domain of letters or its
 * punycode (`xn--...`) form. Refused: white space, quotes, brackets, `<>`, a leading, trailing or double
 * dot, and the rarely used quoted local parts and IP-literal domains.
 */
export const EMAIL_PATTERN = new RegExp(
  `^(?=[^@]{1,64}@)${ATOM}(?:\\.${ATOM})*@(?:${LABEL}\\.)+(?:\\p{L}{2,63}|xn--[a-z0-9-]{1,59})$`,
  "iu",
);

/** An e-mail field of a request (HR events, the identity map): the same rule as looksLikeEmail. */
export const emailAddress = () =>
  z.email({ pattern: EMAIL_PATTERN, error: "must be an e-mail address" }).max(MAX_EMAIL_LENGTH);

/** Whether an identifier a source sends (a login, a userName) is an e-mail address, to use as one. */
export const looksLikeEmail = (value: string) => {
  const v = value.trim();
  return v.length <= MAX_EMAIL_LENGTH && EMAIL_PATTERN.test(v);
};

/**
 * One audit record: who, what, when, why, and the request id that ties it to logs.
 * Never holds secrets, signatures or tokens: only the fields below are ever written.
 */
export const AuditRecord = z.object({
  id: z.string(),
  at: z.string(),
  type: AuditType,
  /** Who acted: `source:hr`, `workflow`, or a verified admin identity (`alice@acme.com`, `break-glass`). */
  actor: z.string(),
  /** How an admin actor was verified: `cloudflare-access`, `access-service-token`, `api-token`, `break-glass`, `local`. */
  verifiedBy: z.string().optional(),
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
