import { looksLikeEmail } from "../../audit/schema";
import type { UserAttributes } from "./schema";

/** Who a SCIM user is, for a run and for the audit trail. */
export interface ScimSubject {
  /** The IdP's `externalId` (its own id of the person), else the directory's id. */
  hrId: string;
  email?: string;
  name?: string;
}

/** Display names in a run's subject are capped: they are shown, never matched on their full length. */
const MAX_NAME_CHARS = 200;

/**
 * The person a SCIM user is, pure: the IdP's id, the primary (or work, or first) e-mail (else the userName
 * when it is one), and the name (`name.formatted`, else `displayName`, else given + family name).
 */
export function subjectOf(id: string, user: UserAttributes): ScimSubject {
  const emails = (Array.isArray(user.emails) ? user.emails : []) as Array<Record<string, unknown>>;
  const pick =
    emails.find((e) => e.primary === true || String(e.primary).toLowerCase() === "true") ??
    emails.find((e) => e.type === "work") ??
    emails[0];
  const candidates = [pick?.value, user.userName].filter((v): v is string => typeof v === "string");
  const email = candidates.find(looksLikeEmail);
  const name = user.name as Record<string, unknown> | undefined;
  const formatted =
    (typeof name?.formatted === "string" && name.formatted.trim()) ||
    (typeof user.displayName === "string" && user.displayName.trim()) ||
    [name?.givenName, name?.familyName].filter((v) => typeof v === "string" && v.trim()).join(" ");
  const externalId =
    typeof user.externalId === "string" && user.externalId.trim() ? user.externalId.trim() : undefined;
  return {
    hrId: externalId ?? id,
    ...(email ? { email: email.trim().toLowerCase() } : {}),
    ...(formatted ? { name: formatted.slice(0, MAX_NAME_CHARS) } : {}),
  };
}
