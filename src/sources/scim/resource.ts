import * as z from "zod";
import { looksLikeEmail } from "../../audit/schema";
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

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** Attribute names are case-insensitive in SCIM; the ones we read are stored in their canonical case. */
const KNOWN = ["userName", "active", "externalId", "displayName", "name", "emails", "id", "meta", "schemas"];
function canonical(attr: string, known: readonly string[] = KNOWN): string {
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

const isCoreSchema = (urn: string) => urn.toLowerCase() === USER_SCHEMA.toLowerCase();

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
  return {
    ...rest,
    userName: input.userName,
    active: input.active === undefined ? currentActive : parseActive(input.active),
  };
}

const RESERVED = new Set(["id", "meta", "schemas"]);
/** `attr`, `attr.sub`, or `attr[type eq "x"].sub` (how Entra ID addresses e-mails and addresses). */
const PATH = /^([A-Za-z][\w-]*)(?:\[\s*type\s+eq\s+"([^"]*)"\s*\])?(?:\.([A-Za-z][\w-]*))?$/i;
/** An extension attribute: `urn:...:enterprise:2.0:User:department` (or `...:manager.value`). */
const EXTENSION_PATH = /^(urn:[A-Za-z0-9.:_-]+):([A-Za-z][\w-]*)(?:\.([A-Za-z][\w-]*))?$/;
const isExtension = (key: string) => /^urn:/i.test(key);

type Change = { kind: "add" | "replace" | "remove"; value: unknown };

function setPath(target: Record<string, unknown>, path: string, change: Change): void {
  const trimmed = path.trim();
  const ext = EXTENSION_PATH.exec(trimmed);
  if (ext) {
    // Extension attributes (Entra's department, manager, ...) are kept under their schema URN.
    const [, urn = "", attr = "", sub] = ext;
    // `urn:...:core:2.0:User:active` is the core attribute itself, not an extension.
    if (isCoreSchema(urn)) {
      setPath(target, sub ? `${attr}.${sub}` : attr, change);
      return;
    }
    const holder = isObject(target[urn]) ? { ...(target[urn] as Record<string, unknown>) } : {};
    setPath(holder, sub ? `${attr}.${sub}` : attr, change);
    target[urn] = holder;
    return;
  }
  const m = PATH.exec(trimmed);
  if (!m) throw new ScimError("bad_request", `unsupported PATCH path: ${path.slice(0, 100)}`, "invalidPath");
  const [, rawAttr = "", type, sub] = m;
  const attr = canonical(rawAttr);
  const remove = change.kind === "remove";
  if (RESERVED.has(attr)) throw new ScimError("bad_request", `${attr} cannot be changed`, "mutability");
  if (attr === "active" && remove) {
    throw new ScimError("bad_request", "active cannot be removed; set it to true or false", "mutability");
  }
  if (type !== undefined) {
    const list = Array.isArray(target[attr]) ? [...(target[attr] as Record<string, unknown>[])] : [];
    // `type` is not case-exact (RFC 7643 2.4).
    const i = list.findIndex(
      (e) => isObject(e) && typeof e.type === "string" && e.type.toLowerCase() === type.toLowerCase(),
    );
    if (remove) {
      if (i >= 0) list.splice(i, 1);
    } else {
      const entry = { ...(i >= 0 ? list[i] : { type }) };
      if (sub) entry[sub] = change.value;
      else Object.assign(entry, isObject(change.value) ? change.value : { value: change.value });
      if (i >= 0) list[i] = entry;
      else list.push(entry);
    }
    target[attr] = list;
    return;
  }
  if (sub) {
    const parent = { ...((target[attr] as Record<string, unknown> | undefined) ?? {}) };
    if (remove) delete parent[sub];
    else parent[sub] = change.value;
    target[attr] = parent;
    return;
  }
  if (remove) delete target[attr];
  else if (attr === "active") target[attr] = parseActive(change.value);
  else if (change.kind === "add" && Array.isArray(target[attr]) && Array.isArray(change.value)) {
    // `add` to a multi-valued attribute appends what is not there yet (RFC 7644 3.5.2.1): a retried PATCH
    // adds nothing twice.
    const list = target[attr] as unknown[];
    const present = new Set(list.map((v) => JSON.stringify(v)));
    target[attr] = [...list, ...change.value.filter((v) => !present.has(JSON.stringify(v)))];
  } else target[attr] = change.value;
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
      setPath(next, op.path, { kind, value: undefined });
      continue;
    }
    if (op.path) {
      setPath(next, op.path, { kind, value: op.value });
      continue;
    }
    if (!isObject(op.value)) {
      throw new ScimError("bad_request", "an op without path needs an object value", "invalidValue");
    }
    // Without a path the value's attributes are merged in; a complex one (name, an extension) merges with
    // what is there.
    for (const [key, value] of Object.entries(canonicalKeys(op.value) as Record<string, unknown>)) {
      const name = isExtension(key) ? key : canonical(key);
      const current = next[name];
      const merged = isObject(value) && isObject(current) ? { ...current, ...value } : value;
      if (isExtension(key)) {
        if (!isObject(value)) {
          throw new ScimError("bad_request", `${key.slice(0, 100)} must be an object`, "invalidValue");
        }
        next[key] = merged;
      } else setPath(next, key, { kind, value: merged });
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
    ...(formatted ? { name: formatted.slice(0, 200) } : {}),
  };
}
