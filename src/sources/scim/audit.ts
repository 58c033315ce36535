import type { AuditInput } from "../../audit/schema";
import { isObject, type UserAttributes } from "./schema";
import { subjectOf } from "./subject";

/**
 * What a SCIM write records, pure: one `scim.user` record per state change (issue 8 finding 9). It names
 * the change (`status`), the attributes that changed (names only), and before/after of the identifiers a
 * person is matched on (userName, externalId, active, primary e-mail). Other attribute values are never
 * copied: they are the IdP's data and could hold anything. The password never reaches a user's attributes
 * (`withoutPasswords`), so it cannot reach a record.
 */

export type ScimMethod = "POST" | "PUT" | "PATCH" | "DELETE";
export type ScimChange = "created" | "updated" | "deactivated" | "reactivated" | "deleted";

/** At most this many changed attribute names in one record (a body may hold many; the record stays small). */
export const MAX_CHANGED_NAMES = 50;
/** An attribute name in `changed` is cut to this length (names are free-form in a loose SCIM schema). */
const MAX_NAME_CHARS = 100;

type Identifier = "userName" | "externalId" | "active" | "email";
const IDENTIFIERS: readonly Identifier[] = ["userName", "externalId", "active", "email"];

function identifiers(id: string, user: UserAttributes): Partial<Record<Identifier, string | boolean>> {
  const email = subjectOf(id, user).email;
  return {
    userName: user.userName,
    active: user.active,
    ...(typeof user.externalId === "string" ? { externalId: user.externalId } : {}),
    ...(email ? { email } : {}),
  };
}

/** JSON with object keys sorted: two values are the same attribute value when these are equal. */
function stable(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stable).join(",")}]`;
  if (isObject(value)) {
    const keys = Object.keys(value).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${stable(value[k])}`).join(",")}}`;
  }
  return JSON.stringify(value) ?? "undefined";
}

/** The top-level attributes whose values differ, sorted. */
export function changedAttributes(before: UserAttributes | null, after: UserAttributes | null): string[] {
  const a: Record<string, unknown> = before ?? {};
  const b: Record<string, unknown> = after ?? {};
  const names = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...names].filter((n) => stable(a[n]) !== stable(b[n])).sort();
}

function changeOf(before: UserAttributes | null, after: UserAttributes | null): ScimChange {
  if (!before) return "created";
  if (!after) return "deleted";
  if (before.active && !after.active) return "deactivated";
  if (!before.active && after.active) return "reactivated";
  return "updated";
}

export interface ChangeInput {
  method: ScimMethod;
  /** The directory's id of the user. */
  id: string;
  /** Null for a create. */
  before: UserAttributes | null;
  /** Null for a delete. */
  after: UserAttributes | null;
  at: string;
  requestId?: string | undefined;
}

/** The record of one write, or null when it changed no attribute (a repeated request). */
export function changeRecord({ method, id, before, after, at, requestId }: ChangeInput): AuditInput | null {
  const changed = changedAttributes(before, after);
  if (before && after && changed.length === 0) return null;
  const details: Record<string, string | boolean | number | null> = {
    scimId: id,
    changed: changed
      .slice(0, MAX_CHANGED_NAMES)
      .map((n) => n.slice(0, MAX_NAME_CHARS))
      .join(","),
    ...(changed.length > MAX_CHANGED_NAMES ? { changedCount: changed.length } : {}),
  };
  const was = before ? identifiers(id, before) : null;
  const now = after ? identifiers(id, after) : null;
  for (const key of IDENTIFIERS) {
    const b = was?.[key];
    const a = now?.[key];
    if (was && now) {
      if (b === a) continue;
      details[`before.${key}`] = b ?? null;
      details[`after.${key}`] = a ?? null;
    } else if (b !== undefined) details[`before.${key}`] = b;
    else if (a !== undefined) details[`after.${key}`] = a;
  }
  const subject = subjectOf(id, (after ?? before) as UserAttributes);
  return {
    type: "scim.user",
    actor: "source:scim",
    source: "scim",
    at,
    ...(requestId ? { requestId } : {}),
    subject,
    reason: `SCIM ${method}`,
    status: changeOf(before, after),
    details,
  };
}
