import { z } from "zod";
import { ApiError } from "../../errors";

/**
 * SCIM 2.0 Users (RFC 7643/7644), as much as deprovisioning needs: the IdP creates users, looks them up by
 * filter, and deactivates them (PATCH/PUT `active: false`) or deletes them. Attributes we do not interpret
 * are kept as sent, so a GET returns what the IdP wrote.
 */
export const USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User";
export const LIST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
export const ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error";

/** A SCIM error: its status, `scimType` (RFC 7644 3.12) and our error code. */
export class ScimError extends ApiError {
  constructor(
    code: ConstructorParameters<typeof ApiError>[0],
    message: string,
    readonly scimType?: string,
  ) {
    super(code, message);
  }
}

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

/** The stored attributes of a user (no `id`/`meta`: those are the directory's). */
export type UserAttributes = Record<string, unknown> & { userName: string; active: boolean };

/** Normalises a POST/PUT body: `active` defaults to true; `id`, `meta` and `schemas` are the server's. */
export function attributesFrom(input: UserInput): UserAttributes {
  const {
    id: _id,
    meta: _meta,
    schemas: _schemas,
    ...rest
  } = input as UserInput & { id?: unknown; meta?: unknown };
  return {
    ...rest,
    userName: input.userName,
    active: input.active === undefined ? true : parseActive(input.active),
  };
}

const RESERVED = new Set(["id", "meta", "schemas"]);
/** `attr`, `attr.sub`, or `attr[type eq "x"].sub` (how Entra ID addresses e-mails and addresses). */
const PATH = /^([A-Za-z][\w-]*)(?:\[\s*type\s+eq\s+"([^"]*)"\s*\])?(?:\.([A-Za-z][\w-]*))?$/i;

function setPath(target: Record<string, unknown>, path: string, value: unknown, remove: boolean): void {
  const m = PATH.exec(path.trim());
  if (!m) throw new ScimError("bad_request", `unsupported PATCH path: ${path.slice(0, 100)}`, "invalidPath");
  const [, rawAttr = "", type, sub] = m;
  const attr = canonical(rawAttr);
  if (RESERVED.has(attr)) throw new ScimError("bad_request", `${attr} cannot be changed`, "mutability");
  if (type !== undefined) {
    const list = Array.isArray(target[attr]) ? [...(target[attr] as Record<string, unknown>[])] : [];
    const i = list.findIndex((e) => typeof e === "object" && e !== null && e.type === type);
    if (remove) {
      if (i >= 0) list.splice(i, 1);
    } else {
      const entry = { ...(i >= 0 ? list[i] : { type }) };
      if (sub) entry[sub] = value;
      else Object.assign(entry, typeof value === "object" && value !== null ? value : { value });
      if (i >= 0) list[i] = entry;
      else list.push(entry);
    }
    target[attr] = list;
    return;
  }
  if (sub) {
    const parent = { ...((target[attr] as Record<string, unknown> | undefined) ?? {}) };
    if (remove) delete parent[sub];
    else parent[sub] = value;
    target[attr] = parent;
    return;
  }
  if (remove) delete target[attr];
  else target[attr] = attr === "active" ? parseActive(value) : value;
}

/** Attribute names are case-insensitive in SCIM; the ones we read are stored in their canonical case. */
function canonical(attr: string): string {
  const known = [
    "userName",
    "active",
    "externalId",
    "displayName",
    "name",
    "emails",
    "id",
    "meta",
    "schemas",
  ];
  return known.find((k) => k.toLowerCase() === attr.toLowerCase()) ?? attr;
}

/**
 * Applies PATCH operations (RFC 7644 3.5.2) to a copy of `user`. `op` is matched case-insensitively (Entra
 * sends "Replace"); a replace/add without `path` merges the value object (Okta's deactivation).
 */
export function applyPatch(user: UserAttributes, ops: PatchRequest["Operations"]): UserAttributes {
  const next: Record<string, unknown> = structuredClone(user);
  for (const op of ops) {
    const kind = op.op.toLowerCase();
    if (kind !== "add" && kind !== "replace" && kind !== "remove") {
      throw new ScimError("bad_request", `unsupported op: ${op.op.slice(0, 20)}`, "invalidSyntax");
    }
    if (kind === "remove") {
      if (!op.path) throw new ScimError("bad_request", "remove needs a path", "noTarget");
      setPath(next, op.path, undefined, true);
      continue;
    }
    if (op.path) {
      setPath(next, op.path, op.value, false);
      continue;
    }
    if (typeof op.value !== "object" || op.value === null || Array.isArray(op.value)) {
      throw new ScimError("bad_request", "an op without path needs an object value", "invalidValue");
    }
    // Without a path the value's attributes are merged in; a complex one (name) merges with what is there.
    for (const [key, value] of Object.entries(op.value)) {
      const current = next[canonical(key)];
      const isObject = (v: unknown): v is Record<string, unknown> =>
        typeof v === "object" && v !== null && !Array.isArray(v);
      setPath(next, key, isObject(value) && isObject(current) ? { ...current, ...value } : value, false);
    }
  }
  const parsed = UserInput.safeParse(next);
  if (!parsed.success) {
    throw new ScimError(
      "bad_request",
      `the patched user is invalid at ${parsed.error.issues[0]?.path.join(".")}`,
      "invalidValue",
    );
  }
  return { ...next, userName: parsed.data.userName, active: parseActive(next.active ?? true) };
}

/** The person a SCIM user is, for a run: the IdP's id, the primary (or work, or first) e-mail, the name. */
export function subjectOf(id: string, user: UserAttributes) {
  const emails = (Array.isArray(user.emails) ? user.emails : []) as Array<Record<string, unknown>>;
  const pick =
    emails.find((e) => e.primary === true || String(e.primary).toLowerCase() === "true") ??
    emails.find((e) => e.type === "work") ??
    emails[0];
  const candidates = [pick?.value, user.userName].filter((v): v is string => typeof v === "string");
  const email = candidates.find((v) => /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(v.trim()));
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
    ...(formatted ? { name: formatted.slice(0, 200) } : {}),
  };
}
