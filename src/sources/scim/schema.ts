import * as z from "zod";
import type { AuditInput } from "../../audit/schema";
import type { Reactivation } from "../reactivation";
import { ScimError } from "./errors";

/**
 * SCIM 2.0 Users (RFC 7643/7644), as much as deprovisioning needs: the IdP creates users, looks them up by
 * filter, and deactivates them (PATCH/PUT `active: false`) or deletes them. Attributes we do not interpret
 * are kept as sent, so a GET returns what the IdP wrote.
 */
export const USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User";
export const LIST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

/** `active` as Okta (boolean) and Entra ID ("True"/"False") send it. */
export function parseActive(value: unknown): boolean {
  if (typeof value === "boolean") return value;
  if (typeof value === "string" && /^(true|false)$/i.test(value.trim())) {
    return value.trim().toLowerCase() === "true";
  }
  throw new ScimError("bad_request", 'active must be a boolean or "true"/"false"', "invalidValue");
}

const Email = z.looseObject({
  value: z.string().max(320),
  type: z.string().max(50).optional(),
  primary: z.union([z.boolean(), z.string().max(10)]).optional(),
});

/** What a POST or PUT body must hold; everything else is kept as sent. */
export const UserInput = z.looseObject({
  schemas: z.array(z.string().max(200)).max(10).optional(),
  userName: z.string().trim().min(1).max(256),
  externalId: z.string().max(256).nullish(),
  displayName: z.string().max(256).nullish(),
  name: z
    .looseObject({
      formatted: z.string().max(256).nullish(),
      givenName: z.string().max(256).nullish(),
      familyName: z.string().max(256).nullish(),
    })
    .nullish(),
  emails: z.array(Email).max(20).nullish(),
  active: z.unknown().optional(),
});
export type UserInput = z.infer<typeof UserInput>;

export const PatchRequest = z.looseObject({
  schemas: z.array(z.string().max(200)).max(10).optional(),
  Operations: z
    .array(
      z.looseObject({
        op: z.string().max(20),
        path: z.string().max(300).optional(),
        value: z.unknown().optional(),
      }),
    )
    .min(1)
    .max(100),
});
export type PatchRequest = z.infer<typeof PatchRequest>;
export type PatchOperation = PatchRequest["Operations"][number];

/** The stored attributes of a user (no `id`/`meta`: those are the directory's). */
export type UserAttributes = Record<string, unknown> & { userName: string; active: boolean };

/** A stored SCIM user, as the routes see it. */
export interface ScimUser {
  id: string;
  attributes: UserAttributes;
  created: string;
  lastModified: string;
  version: number;
  /** How many times this user went from active to inactive (each one is a deprovisioning, i.e. a run). */
  deactivations: number;
}

/** An audit record of a directory write, kept in the directory's outbox until it is written to KV. */
export interface PendingAudit {
  seq: number;
  record: AuditInput;
}

/**
 * A reactivation kept in the directory's outbox until the person's waiting runs are withdrawn: the request
 * does it after its answer, the directory's alarm if the request did not.
 */
export interface PendingReactivation {
  seq: number;
  reactivation: Reactivation;
}

/** The outcome of a write: the user after it, and whether the user is now (or already was) deprovisioned. */
export interface ScimWrite {
  user: ScimUser;
  /** Set when the user is inactive after a deactivation: the run to start (idempotent) is keyed by it. */
  deprovision: number | null;
  /**
   * Set when this write set an inactive user active again (PUT/PATCH `active: true`): the person's waiting
   * runs are to be withdrawn (issue 11), committed in the directory's outbox with the write. A write to a
   * user already active is not one (Okta PUTs whole active users on every profile sync).
   */
  reactivation?: PendingReactivation;
  /** The records of what changed (none when nothing did), to write and then confirm with `outboxDone`. */
  audit: PendingAudit[];
}

/**
 * A refusal, returned rather than thrown: an error's class does not survive the call from the Worker to the
 * Durable Object, so the route turns this back into a ScimError.
 */
export interface ScimFailure {
  error: { code: ScimError["code"]; message: string; scimType?: string };
}

export const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** Attribute names are case-insensitive in SCIM; the ones we read are stored in their canonical case. */
const KNOWN = ["userName", "active", "externalId", "displayName", "name", "emails", "id", "meta", "schemas"];
export function canonical(attr: string, known: readonly string[] = KNOWN): string {
  return known.find((k) => k.toLowerCase() === attr.toLowerCase()) ?? attr;
}

/** A PATCH body with `Operations` however the IdP spelled it. */
export function patchKeys(json: unknown): unknown {
  if (!isObject(json)) return json;
  return Object.fromEntries(Object.entries(json).map(([k, v]) => [canonical(k, ["Operations"]), v]));
}

/** A body's top-level keys in canonical case (`"Active"` is `active`), before it is validated. */
export function canonicalKeys(json: unknown): unknown {
  if (!isObject(json)) return json;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(json)) {
    // Core attributes may also come under the core schema's URN (RFC 7644 3.10).
    if (isCoreSchema(k) && isObject(v)) Object.assign(out, canonicalKeys(v));
    else out[canonical(k)] = v;
  }
  return out;
}

export const isCoreSchema = (urn: string) => urn.toLowerCase() === USER_SCHEMA.toLowerCase();

/** `password`, or an attribute path ending in `:password` (`urn:...:core:2.0:User:password`), any case. */
const isPasswordKey = (key: string) => /(^|:)password$/i.test(key);

/**
 * RFC 7643 4.1.1: `password` is writeOnly and "returned: never". We offer no password management
 * (ServiceProviderConfig `changePassword: false`), so one an IdP syncs (Okta's password push) is dropped
 * before anything is stored, answered or audited: every key `password`, in any case and at any depth (an
 * extension's or a sub-attribute's too), and under its fully qualified name (RFC 7644 3.10).
 */
export function withoutPasswords<T>(value: T): T {
  if (Array.isArray(value)) return value.map(withoutPasswords) as T;
  if (!isObject(value)) return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([key]) => !isPasswordKey(key))
      .map(([key, v]) => [key, withoutPasswords(v)]),
  ) as T;
}

/**
 * The form of a `userName` that uniqueness and `userName eq` compare (RFC 7643 4.1.1: userName is
 * `caseExact: false`). The mapping of RFC 8265 3.3.2 (PRECIS UsernameCaseMapped): full- and half-width
 * forms to their decomposition, then Unicode `toLowerCase`, then NFC. So `ÄNNE` is `änne` whichever way the
 * `Ä` is encoded. Like RFC 8265 (which moved from case folding to `toLowerCase`), `ß` and `SS` stay apart.
 */
export function foldUserName(userName: string): string {
  return userName
    .replace(/[\uFF01-\uFFEE]/g, (ch) => ch.normalize("NFKC"))
    .toLowerCase()
    .normalize("NFC");
}

/**
 * Normalises a POST/PUT body; `id`, `meta` and `schemas` are the server's. `active` defaults to the
 * current value (true for a new user): a PUT that leaves it out does not reactivate anyone.
 */
export function attributesFrom(input: UserInput, currentActive = true): UserAttributes {
  const {
    id: _id,
    meta: _meta,
    schemas: _schemas,
    ...rest
  } = input as UserInput & { id?: unknown; meta?: unknown };
  return withoutPasswords({
    ...rest,
    userName: input.userName,
    active: input.active === undefined ? currentActive : parseActive(input.active),
  });
}
