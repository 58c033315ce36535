import type { Bindings, Config } from "../../env";
import { ApiError } from "../../errors";
import { type KooDriveClient, KooDriveError, USER_PAGE_SIZE } from "../../koodrive/client";
import type { User } from "../../koodrive/schema";
import { koodriveClient } from "../../services";
import { normalizeName, type SeenRow, searchTextOf } from "./people";
import { mappedKeys, peopleSeen } from "./record";
import type { PageAfter } from "./store";

/**
 * People per page of `GET /identities/suggestions`: each distinct name costs at least one KooDrive call,
 * and every name of a page must get its first search within MAX_KOODRIVE_CALLS_PER_REQUEST.
 */
export const MAX_SUGGESTIONS_PAGE = 20;

/**
 * KooDrive calls one page (or one confirmation) may make. A call is retried up to 3 more times on 429/5xx
 * (koodrive/client.ts), so 25 calls stay at most 100 subrequests, inside the Workers limit of 1,000 per
 * request on the Paid plan; it also keeps the page quick for the admin waiting for it.
 * @see https://developers.cloudflare.com/workers/platform/limits/#subrequests
 */
export const MAX_KOODRIVE_CALLS_PER_REQUEST = 25;

/** Name searches sent at once: a page answers in a few round trips without a burst at KooDrive. */
const LOOKUP_PARALLELISM = 4;

export interface Candidate {
  koodriveUserId: string;
  name: string;
  deptName?: string;
  /** KooDrive's status: 0 enabled, 1 disabled (koodrive-api.md "Users"). */
  status?: number;
}

/**
 * How a person's name compares with KooDrive's users: `none` (no user of that name), `suggested` (exactly
 * one: confirm it), `ambiguous` (several: pick one, every one is listed), `unknown` (not searched, or the
 * search failed or ran out of budget: `detail` says why; candidates found so far are listed).
 */
export type MatchKind = "none" | "suggested" | "ambiguous" | "unknown";

export interface Suggestion {
  key: string;
  email?: string;
  hrId?: string;
  name: string;
  source: string;
  firstSeenAt: string;
  lastSeenAt: string;
  match: MatchKind;
  candidateCount: number;
  candidates: Candidate[];
  detail?: string;
}

export interface SuggestionPage {
  suggestions: Suggestion[];
  nextCursor?: string;
}

const toCandidate = (u: User): Candidate => ({
  koodriveUserId: u.userId,
  name: u.name,
  ...(u.deptName ? { deptName: u.deptName } : {}),
  ...(u.status !== undefined ? { status: u.status } : {}),
});

/** The opaque cursor: base64url of `[nameKey, key]` of the last person of the page. */
export function encodeCursor(after: PageAfter): string {
  const bytes = new TextEncoder().encode(JSON.stringify(after));
  return btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "");
}

export function decodeCursor(cursor: string): PageAfter {
  try {
    const b64 = cursor.replace(/-/g, "+").replace(/_/g, "/");
    const text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(
      Uint8Array.from(atob(b64), (ch) => ch.charCodeAt(0)),
    );
    const value = JSON.parse(text) as unknown;
    if (Array.isArray(value) && value.length === 2 && value.every((v) => typeof v === "string")) {
      return value as PageAfter;
    }
  } catch {
    // falls through to the refusal
  }
  throw new ApiError("bad_request", "invalid cursor (use nextCursor from the previous page)");
}

/** KooDrive calls left in this request. */
class Budget {
  constructor(private left: number) {}
  take(): boolean {
    if (this.left <= 0) return false;
    this.left--;
    return true;
  }
}

/** The search of one name: the exact matches found, and whether every page was read. */
interface NameSearch {
  exact: Map<string, User>;
  offset: number;
  complete: boolean;
  error?: string;
}

/** Reads the next `userList` page of a name search (keyWord is a substring match on names only). */
async function nextPage(client: KooDriveClient, actingUserId: string, name: string, s: NameSearch) {
  try {
    const page = await client.listUsers(actingUserId, { offset: s.offset, keyWord: searchTextOf(name) });
    for (const u of page.list) if (normalizeName(u.name) === normalizeName(name)) s.exact.set(u.userId, u);
    s.offset += USER_PAGE_SIZE;
    s.complete = page.list.length === 0 || s.offset >= page.total;
  } catch (err) {
    if (!(err instanceof KooDriveError)) throw err;
    s.complete = true;
    s.error = `KooDrive's user search failed (${err.httpStatus ?? "no answer"}${err.code ? ` code ${err.code}` : ""}); reload to try again`;
  }
}

/** Runs `fn` over `items`, `parallelism` at a time. */
async function eachLimited<T>(items: T[], parallelism: number, fn: (item: T) => Promise<void>) {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.min(parallelism, items.length) }, worker));
}

/**
 * Searches KooDrive for each distinct name, within `budget`: first one page for every name (a page holds
 * at most MAX_SUGGESTIONS_PAGE names, fewer than the budget), then further pages of names with more than
 * 100 substring matches while the budget lasts.
 */
async function searchNames(
  client: KooDriveClient,
  actingUserId: string,
  names: string[],
  budget: Budget,
): Promise<Map<string, NameSearch>> {
  const searches = new Map<string, NameSearch>(
    names.map((n) => [n, { exact: new Map(), offset: 0, complete: false }]),
  );
  await eachLimited(names, LOOKUP_PARALLELISM, async (name) => {
    if (budget.take()) await nextPage(client, actingUserId, name, searches.get(name) as NameSearch);
  });
  for (const name of names) {
    const s = searches.get(name) as NameSearch;
    while (!s.complete && budget.take()) await nextPage(client, actingUserId, name, s);
  }
  return searches;
}

function suggestionOf(row: SeenRow, search: NameSearch | undefined, unsearched: string): Suggestion {
  const candidates = [...(search?.exact.values() ?? [])]
    .map(toCandidate)
    .sort((a, b) => a.koodriveUserId.localeCompare(b.koodriveUserId));
  const detail = !search ? unsearched : search.error;
  const incomplete = search && !search.complete;
  const match: MatchKind =
    !search || search.error || incomplete
      ? "unknown"
      : candidates.length === 0
        ? "none"
        : candidates.length === 1
          ? "suggested"
          : "ambiguous";
  return {
    key: row.key,
    ...(row.email ? { email: row.email } : {}),
    ...(row.hrId ? { hrId: row.hrId } : {}),
    name: row.name,
    source: row.source,
    firstSeenAt: row.firstSeenAt,
    lastSeenAt: row.lastSeenAt,
    match,
    candidateCount: candidates.length,
    candidates,
    ...(detail
      ? { detail }
      : incomplete
        ? {
            detail: `more than ${search.offset} KooDrive users contain this name; not all were searched in this request`,
          }
        : {}),
  };
}

/**
 * One page of suggested matches: people seen without an identity-map entry, each with the KooDrive users
 * of the same (normalised) name, found through `GET /userList?keyWord=` acting as KOODRIVE_DIRECTORY_USER_ID
 * (as the resolver's name match does). People mapped since they were seen are dropped from the store and
 * the page, so a page may hold fewer than `limit`: follow `nextCursor` until it is absent.
 */
export async function listSuggestions(
  env: Bindings,
  config: Config,
  q: { limit: number; cursor?: string | undefined },
  client: KooDriveClient = koodriveClient(config),
): Promise<SuggestionPage> {
  const limit = Math.min(Math.max(1, q.limit), MAX_SUGGESTIONS_PAGE);
  const after = q.cursor ? decodeCursor(q.cursor) : null;
  const store = peopleSeen(env);
  const rows = await store.page(after, limit + 1);
  const page = rows.slice(0, limit);
  const mapped = await mappedKeys(env.AUDIT, page);
  if (mapped.size > 0) await store.forget([...mapped]);
  const open = page.filter((r) => !mapped.has(r.key));

  const directory = config.KOODRIVE_DIRECTORY_USER_ID;
  const names = [...new Map(open.map((r) => [normalizeName(r.name), r.name])).values()];
  const searches = directory
    ? await searchNames(client, directory, names, new Budget(MAX_KOODRIVE_CALLS_PER_REQUEST))
    : new Map<string, NameSearch>();
  const unsearched = directory
    ? "not searched: this request's KooDrive budget is spent; reload"
    : "KooDrive's users cannot be searched by name without KOODRIVE_DIRECTORY_USER_ID";
  const byKey = new Map([...searches].map(([name, s]) => [normalizeName(name), s]));
  const last = page.at(-1);
  return {
    suggestions: open.map((r) => suggestionOf(r, byKey.get(normalizeName(r.name)), unsearched)),
    ...(rows.length > limit && last
      ? { nextCursor: encodeCursor([normalizeName(last.name), last.key]) }
      : {}),
  };
}
