import { ScimError } from "./errors";
import {
  canonical,
  canonicalKeys,
  isCoreSchema,
  isObject,
  type PatchOperation,
  parseActive,
  type UserAttributes,
  UserInput,
  withoutPasswords,
} from "./schema";

/**
 * The PATCH engine (RFC 7644 3.5.2), pure: operations in, the patched attributes out, or a ScimError that
 * names the first problem. No I/O; the directory applies it to the stored user in one step.
 */

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
 * sends "Replace"); a replace/add without `path` merges the value object (Okta's deactivation). A password
 * however addressed (`path: "password"`, a value holding one) is dropped: the result never holds one.
 */
export function applyPatch(user: UserAttributes, ops: readonly PatchOperation[]): UserAttributes {
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
  const kept = withoutPasswords(next);
  const parsed = UserInput.safeParse(kept);
  if (!parsed.success) {
    throw new ScimError(
      "bad_request",
      `the patched user is invalid at ${parsed.error.issues[0]?.path.join(".")}`,
      "invalidValue",
    );
  }
  return { ...kept, userName: parsed.data.userName, active: parseActive(kept.active ?? true) };
}
