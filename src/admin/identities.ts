import { type Context, Hono } from "hono";
import * as z from "zod";
import { identityEmailKey, identityHrKey } from "../audit/keys";
import { type AuditInput, emailAddress } from "../audit/schema";
import type { AppEnv } from "../env";
import { ApiError, type FieldError, fieldErrors } from "../errors";
import type { IdentityEntry } from "../offboarding/resolve";
import { parseIdentityCsv } from "./identity-csv";
import { actorOf } from "./principal";

/**
 * Entries one `PUT /identities` may carry: each writes up to two KV keys, and one Worker invocation may
 * make at most 1,000 KV operations (Workers KV limits), so larger maps are loaded in several requests.
 * Budget: 900 writes, 9 bulk reads of the previous entries (a bulk read of up to 100 keys counts as one
 * operation) and the audit record.
 * @see https://developers.cloudflare.com/kv/platform/limits/
 */
export const MAX_IDENTITIES_PER_PUT = 450;
/** Keys one KV bulk read may name (Workers KV "Read key-value pairs", bulk reads). */
const KV_BULK_READ_KEYS = 100;
/** KV writes started at once, so a 900-key load does not open 900 requests together. */
const WRITE_BATCH = 50;
/**
 * Changed keys listed by name in the audit record; the rest are counted (`unlisted`). 100 keys of a few
 * dozen bytes keep a record small enough to page through `GET /audit`, and name every change of a
 * routine correction.
 */
export const MAX_AUDITED_IDENTITY_CHANGES = 100;

const Identity = z
  .object({
    email: emailAddress().optional(),
    hrId: z.string().trim().min(1).max(200).optional(),
    koodriveUserId: z.string().regex(/^\d{19}$/, "must be a 19-digit KooDrive user id"),
    name: z.string().trim().max(200).optional(),
  })
  .refine((i) => i.email || i.hrId, { message: "needs an email or an hrId", path: ["email"] });
type Identity = z.infer<typeof Identity>;
/** One identity-map row as `PUT /identities` takes it (validated). */
export type IdentityInput = Identity;

export const IdentitiesBody = z.object({ identities: z.array(Identity).min(1).max(MAX_IDENTITIES_PER_PUT) });

/** One identity-map key as `GET /identities/:key` takes it (`email:<lower-case>` or `hr:<id>`), and its KV key. */
interface KeyWrite {
  label: string;
  kvKey: string;
  entry: IdentityEntry;
  /** Index of the identity in the request (for errors). */
  index: number;
}

/** What a load did to one key, compared with the entry KV held before. */
interface IdentityChange {
  key: string;
  kind: "added" | "remapped" | "updated";
  /** The KooDrive user id before (absent for an added key). */
  from?: string;
  to: string;
}

/** Reads the body as JSON or CSV; CSV rows carry their row numbers for error messages. */
function readIdentities(type: string, text: string): { raw: unknown; rows?: number[] } {
  if (type.startsWith("text/csv")) {
    const csv = parseIdentityCsv(text);
    return { raw: { identities: csv.identities }, rows: csv.rows };
  }
  if (!type.startsWith("application/json"))
    throw new ApiError("unsupported_media_type", "send application/json or text/csv");
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new ApiError("invalid_body", "the body is not valid JSON", [
      { path: "(root)", message: "not valid JSON" },
    ]);
  }
  return { raw: Array.isArray(raw) ? { identities: raw } : raw };
}

/** `identities.3.email` -> `row 5.email` for a CSV, whose author knows rows, not array indexes. */
function locate(errors: FieldError[], rows: number[] | undefined): FieldError[] {
  if (!rows) return errors;
  return errors.map((e) => {
    const m = /^identities\.(\d+)(.*)$/.exec(e.path);
    const row = m ? rows[Number(m[1])] : undefined;
    return row === undefined ? e : { ...e, path: `row ${row}${m?.[2] ?? ""}` };
  });
}

/**
 * The KV writes of a validated load, one per key (a key named twice for the same user: the later entry
 * wins, as in a sequential load); two entries mapping one key to different users are refused.
 */
async function keyWrites(identities: Identity[], now: string, actor: string, rows?: number[]) {
  const writes = new Map<string, KeyWrite>();
  const conflicts: FieldError[] = [];
  const where = (index: number) => (rows ? `row ${rows[index]}` : `identities.${index}`);
  for (const [index, i] of identities.entries()) {
    const entry = entryFor(i, now, actor);
    const keys: Array<[string, string]> = [];
    if (entry.email) keys.push([`email:${entry.email}`, await identityEmailKey(entry.email)]);
    if (entry.hrId) keys.push([`hr:${entry.hrId}`, await identityHrKey(entry.hrId)]);
    for (const [label, kvKey] of keys) {
      const earlier = writes.get(kvKey);
      if (earlier && earlier.entry.koodriveUserId !== entry.koodriveUserId) {
        conflicts.push({
          path: where(index),
          message: `${label} is also in ${where(earlier.index)} with another koodriveUserId`,
        });
      }
      writes.set(kvKey, { label, kvKey, entry, index });
    }
  }
  if (conflicts.length > 0) throw new ApiError("invalid_body", "invalid identities", conflicts);
  return [...writes.values()];
}

/** Compares each key with what KV held before (bulk reads: one KV operation per 100 keys). */
async function changesOf(kv: KVNamespace, writes: KeyWrite[]): Promise<Array<IdentityChange | "unchanged">> {
  const before = new Map<string, IdentityEntry | null>();
  for (let i = 0; i < writes.length; i += KV_BULK_READ_KEYS) {
    const keys = writes.slice(i, i + KV_BULK_READ_KEYS).map((w) => w.kvKey);
    for (const [k, v] of await kv.get<IdentityEntry>(keys, "json")) before.set(k, v);
  }
  return writes.map((w) => diff(w, before.get(w.kvKey) ?? null));
}

/** What writing `w` over `old` changes, or "unchanged" when only the update stamp would differ. */
function diff(w: Pick<KeyWrite, "label" | "entry">, old: IdentityEntry | null): IdentityChange | "unchanged" {
  const to = w.entry.koodriveUserId;
  if (!old) return { key: w.label, kind: "added", to };
  if (old.koodriveUserId !== to) return { key: w.label, kind: "remapped", from: old.koodriveUserId, to };
  const same = old.email === w.entry.email && old.hrId === w.entry.hrId && old.name === w.entry.name;
  return same ? "unchanged" : { key: w.label, kind: "updated", from: old.koodriveUserId, to };
}

/**
 * The audit details of a load: counts, and the changed keys by name (remapped first: a key that now points
 * to another person matters most), at most {@link MAX_AUDITED_IDENTITY_CHANGES}, the rest counted.
 */
function identityAuditDetails(entries: number, keys: number, all: Array<IdentityChange | "unchanged">) {
  const changes = all.filter((c): c is IdentityChange => c !== "unchanged");
  const order = { remapped: 0, added: 1, updated: 2 } as const;
  const listed = [...changes]
    .sort((a, b) => order[a.kind] - order[b.kind])
    .slice(0, MAX_AUDITED_IDENTITY_CHANGES);
  const count = (kind: IdentityChange["kind"]) => changes.filter((c) => c.kind === kind).length;
  return {
    entries,
    keys,
    added: count("added"),
    remapped: count("remapped"),
    updated: count("updated"),
    unchanged: all.length - changes.length,
    changes: JSON.stringify(listed),
    unlisted: changes.length - listed.length,
  };
}

/** What a load did: entries, KV keys, and the keys added, remapped, updated and unchanged. */
export interface IdentityLoad {
  stored: number;
  keys: number;
  added: number;
  remapped: number;
  updated: number;
  unchanged: number;
}

/**
 * The identity map's one write path (`PUT /identities`, confirmed suggested matches): validated entries in,
 * every key written, one `admin.identities` audit record naming the verified actor and the changed keys.
 * `record` adds what the caller knows (the reason, a status, the person, extra details).
 */
export async function storeIdentities(
  c: Context<AppEnv>,
  identities: Identity[],
  record: Pick<AuditInput, "reason" | "status" | "subject"> & { details?: Record<string, string | number> },
  rows?: number[],
): Promise<IdentityLoad> {
  const who = actorOf(c);
  const writes = await keyWrites(identities, new Date().toISOString(), who.actor, rows);
  // Read before writing: KV is eventually consistent, so "before" is what this location last saw.
  const changes = await changesOf(c.env.AUDIT, writes);
  for (let i = 0; i < writes.length; i += WRITE_BATCH) {
    await Promise.all(
      writes.slice(i, i + WRITE_BATCH).map((w) => c.env.AUDIT.put(w.kvKey, JSON.stringify(w.entry))),
    );
  }
  const details = identityAuditDetails(identities.length, writes.length, changes);
  await c.var.audit.write({
    type: "admin.identities",
    ...who,
    requestId: c.var.requestId,
    ...record,
    details: { ...details, ...record.details },
  });
  return {
    stored: identities.length,
    keys: writes.length,
    added: details.added,
    remapped: details.remapped,
    updated: details.updated,
    unchanged: details.unchanged,
  };
}

/**
 * Validates and stores an identity map (`{identities: [...]}` as parsed from JSON or CSV; `rows` maps CSV
 * rows for error messages), audited as the verified actor. Everything is validated before anything is
 * written: a bad row is an ApiError `invalid_body` naming it, and nothing is stored. Used by
 * `PUT /identities` and the console's upload.
 */
export async function loadIdentities(
  c: Context<AppEnv>,
  raw: unknown,
  rows?: number[],
): Promise<IdentityLoad> {
  const parsed = IdentitiesBody.safeParse(raw);
  if (!parsed.success)
    throw new ApiError("invalid_body", "invalid identities", locate(fieldErrors(parsed.error.issues), rows));
  return storeIdentities(c, parsed.data.identities, { reason: "identity map loaded" }, rows);
}

/** The identity-map entry for a key (`email:<e-mail>`, `hr:<id>`, or a bare e-mail), or null. */
export async function lookupIdentity(env: AppEnv["Bindings"], key: string): Promise<IdentityEntry | null> {
  const k = key.trim();
  const kvKey = k.startsWith("hr:")
    ? await identityHrKey(k.slice(3))
    : await identityEmailKey(k.startsWith("email:") ? k.slice(6) : k);
  return env.AUDIT.get<IdentityEntry>(kvKey, "json");
}

/** `PUT /identities` (JSON or CSV) bulk-loads the HR identity -> KooDrive user map; `GET /identities/:key`. */
export function identityRoutes() {
  const app = new Hono<AppEnv>();

  app.put("/", async (c) => {
    const { raw, rows } = readIdentities(c.req.header("content-type") ?? "", await c.req.text());
    return c.json(await loadIdentities(c, raw, rows));
  });

  app.get("/:key", async (c) => {
    // Hono has already decoded the path parameter: decoding again would throw on a literal "%".
    const entry = await lookupIdentity(c.env, c.req.param("key"));
    if (!entry)
      throw new ApiError("not_found", "no identity for that key (use an e-mail, email:<e-mail> or hr:<id>)");
    return c.json(entry);
  });

  return app;
}

function entryFor(i: Identity, updatedAt: string, updatedBy: string): IdentityEntry {
  return {
    koodriveUserId: i.koodriveUserId,
    ...(i.email ? { email: i.email.toLowerCase() } : {}),
    ...(i.hrId ? { hrId: i.hrId } : {}),
    ...(i.name ? { name: i.name } : {}),
    updatedAt,
    updatedBy,
  };
}
