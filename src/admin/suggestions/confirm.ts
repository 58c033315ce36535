import type { Context } from "hono";
import type { AuditSubject } from "../../audit/schema";
import type { AppEnv } from "../../env";
import { ApiError, type FieldError } from "../../errors";
import { KooDriveError } from "../../koodrive/client";
import { userExists } from "../../offboarding/resolve";
import { koodriveClient } from "../../services";
import { type IdentityInput, type IdentityLoad, storeIdentities } from "../identities";
import { actorOf } from "../principal";
import { canonicalKey, normalizeName, type SeenRow } from "./people";
import { mappedKeys, peopleSeen } from "./record";
import { MAX_KOODRIVE_CALLS_PER_REQUEST } from "./suggest";

/**
 * Matches one confirmation may carry: each costs one KooDrive call (`GET /users/{id}`), so a whole request
 * stays within MAX_KOODRIVE_CALLS_PER_REQUEST; a page of suggestions (20) fits in one confirmation.
 */
export const MAX_MATCHES_PER_CONFIRM = 20;
/** Keys one dismissal may name (no KooDrive call; one store write and one audit record). */
export const MAX_KEYS_PER_DISMISS = 100;

/** Keys named in one audit record's details; the rest are counted. */
const MAX_AUDITED_KEYS = 100;

export interface Match {
  key: string;
  koodriveUserId: string;
}

/** The audit subject of a one-person action, so `GET /audit?user=` finds it by that person. */
function subjectOf(rows: SeenRow[], koodriveUserId?: string): AuditSubject | undefined {
  if (rows.length !== 1) return undefined;
  const [r] = rows as [SeenRow];
  return {
    ...(r.email ? { email: r.email } : {}),
    ...(r.hrId ? { hrId: r.hrId } : {}),
    name: r.name,
    ...(koodriveUserId ? { koodriveUserId } : {}),
  };
}

/** Refuses the whole request, audited, naming each refused item by its index. */
async function refuse(
  c: Context<AppEnv>,
  what: string,
  refused: FieldError[],
  total: number,
): Promise<never> {
  await c.var.audit.write({
    type: "admin.identities",
    ...actorOf(c),
    requestId: c.var.requestId,
    status: "refused",
    reason: `${what} refused: ${refused.length} of ${total} cannot be applied; nothing was changed`,
    details: { refused: refused.length, items: JSON.stringify(refused.slice(0, MAX_AUDITED_KEYS)) },
  });
  throw new ApiError(
    "conflict",
    `${refused.length} of ${total} cannot be applied; nothing was changed (see details)`,
    refused,
  );
}

/**
 * Why `m` (for the stored person `row`) cannot be confirmed without asking KooDrive, or null: it must still
 * be a current suggestion (seen, not dismissed, not mapped since).
 */
function localRefusal(row: SeenRow | undefined, mapped: boolean): string | null {
  if (!row) return "not a current suggestion (already confirmed, forgotten, or never seen without a mapping)";
  if (row.dismissedAt) return `dismissed by ${row.dismissedBy ?? "an admin"}: not a current suggestion`;
  if (mapped) return "already in the identity map: not a current suggestion";
  return null;
}

/**
 * Confirms suggested matches, all or nothing: every match must still be a current suggestion whose
 * candidates include its `koodriveUserId` (a KooDrive user whose name equals the person's, normalised:
 * exactly the users the suggestion lists), checked with one `GET /users/{id}` each. Only when every one
 * passes are they written, through the identity map's one write path (`storeIdentities`: the same KV
 * entries and `admin.identities` audit record as `PUT /identities`, with the verified actor), and the
 * people leave the suggestions. All or nothing, as `PUT /identities`: an admin who confirmed a reviewed set
 * knows exactly what was stored, and fixing one item and sending again is idempotent.
 */
export async function confirmSuggestions(
  c: Context<AppEnv>,
  matches: Match[],
): Promise<IdentityLoad & { confirmed: Match[] }> {
  // Every match is checked with KooDrive before anything is written: more than one request's budget is
  // refused, never stored unchecked (the API's schema caps it too; the console's form is not that schema).
  if (matches.length > MAX_MATCHES_PER_CONFIRM)
    throw new ApiError(
      "invalid_body",
      `at most ${MAX_MATCHES_PER_CONFIRM} people can be confirmed at once (a page of suggestions)`,
      [{ path: "matches", message: `${matches.length} sent` }],
    );
  const wanted = matches.map((m) => ({ key: canonicalKey(m.key), koodriveUserId: m.koodriveUserId }));
  const twice = wanted.findIndex((m, i) => wanted.findIndex((o) => o.key === m.key) !== i);
  if (twice >= 0) {
    throw new ApiError("invalid_body", "a person can be confirmed once per request", [
      { path: `matches.${twice}.key`, message: `${wanted[twice]?.key} is named twice` },
    ]);
  }
  const store = peopleSeen(c.env);
  const rows = new Map((await store.get(wanted.map((m) => m.key))).map((r) => [r.key, r]));
  const mapped = await mappedKeys(c.env.AUDIT, [...rows.values()]);
  const refused: FieldError[] = [];
  const toCheck: Array<{ index: number; row: SeenRow; id: string }> = [];
  for (const [index, m] of wanted.entries()) {
    const row = rows.get(m.key);
    const why = localRefusal(row, mapped.has(m.key));
    if (why) refused.push({ path: `matches.${index}`, message: `${m.key}: ${why}` });
    else toCheck.push({ index, row: row as SeenRow, id: m.koodriveUserId });
  }

  const directory = c.var.config.KOODRIVE_DIRECTORY_USER_ID;
  if (toCheck.length > 0 && !directory) {
    throw new ApiError("misconfigured", "confirming a name match needs KOODRIVE_DIRECTORY_USER_ID");
  }
  const client = koodriveClient(c.var.config);
  const checks = toCheck.slice(0, MAX_KOODRIVE_CALLS_PER_REQUEST).map(async ({ index, row, id }) => {
    const user = await userExists(client, directory as string, id);
    const why = !user.exists
      ? `KooDrive has no user ${id}`
      : normalizeName(user.name) !== normalizeName(row.name)
        ? `KooDrive user ${id} is named "${user.name}", not "${row.name}": not a candidate`
        : null;
    if (why) refused.push({ path: `matches.${index}`, message: `${row.key}: ${why}` });
  });
  try {
    await Promise.all(checks);
  } catch (err) {
    if (!(err instanceof KooDriveError)) throw err;
    throw new ApiError("upstream", "KooDrive did not answer while checking the matches; nothing was changed");
  }
  if (refused.length > 0) {
    refused.sort((a, b) => Number(a.path.split(".")[1]) - Number(b.path.split(".")[1]));
    return refuse(c, "suggested matches", refused, wanted.length);
  }

  const confirmedRows = wanted.map((m) => rows.get(m.key) as SeenRow);
  const identities: IdentityInput[] = wanted.map((m, i) => {
    const row = confirmedRows[i] as SeenRow;
    return {
      koodriveUserId: m.koodriveUserId,
      ...(row.email ? { email: row.email } : {}),
      ...(row.hrId ? { hrId: row.hrId } : {}),
      name: row.name,
    };
  });
  const subject = subjectOf(confirmedRows, wanted[0]?.koodriveUserId);
  const load = await storeIdentities(c, identities, {
    reason: `suggested match${wanted.length === 1 ? "" : "es"} confirmed (name match checked with KooDrive)`,
    status: "confirmed",
    ...(subject ? { subject } : {}),
    details: { confirmed: wanted.length },
  });
  await store.forget(wanted.map((m) => m.key));
  return { ...load, confirmed: wanted };
}

/**
 * Dismisses suggestions, all or nothing (every key must be a person seen; dismissing twice is harmless): a
 * dismissed person is kept, so being seen again does not suggest them again, until SEEN_RETENTION_DAYS
 * after they were last seen. Audited as `admin.identities` with status `dismissed`.
 */
export async function dismissSuggestions(
  c: Context<AppEnv>,
  keys: string[],
): Promise<{ dismissed: string[] }> {
  if (keys.length > MAX_KEYS_PER_DISMISS)
    throw new ApiError("invalid_body", `at most ${MAX_KEYS_PER_DISMISS} people can be dismissed at once`, [
      { path: "keys", message: `${keys.length} sent` },
    ]);
  const wanted = [...new Set(keys.map(canonicalKey))];
  const store = peopleSeen(c.env);
  const rows = await store.get(wanted);
  const found = new Set(rows.map((r) => r.key));
  const refused = keys
    .map((key, index) => ({ key: canonicalKey(key), index }))
    .filter(({ key }) => !found.has(key))
    .map(({ key, index }) => ({ path: `keys.${index}`, message: `${key}: not a current suggestion` }));
  if (refused.length > 0) return refuse(c, "dismissal", refused, keys.length);
  const who = actorOf(c);
  const dismissed = await store.dismiss(wanted, who.actor);
  const subject = subjectOf(rows);
  await c.var.audit.write({
    type: "admin.identities",
    ...who,
    requestId: c.var.requestId,
    status: "dismissed",
    reason:
      `suggested match${wanted.length === 1 ? "" : "es"} dismissed: ${wanted.slice(0, 3).join(", ")}${wanted.length > 3 ? ", ..." : ""}`.slice(
        0,
        500,
      ),
    ...(subject ? { subject } : {}),
    details: {
      dismissed: dismissed.length,
      keys: JSON.stringify(wanted.slice(0, MAX_AUDITED_KEYS)),
      unlisted: Math.max(0, wanted.length - MAX_AUDITED_KEYS),
    },
  });
  return { dismissed };
}
