/**
 * Keyset paging for the share lists, with KooDrive's documented quirk: "a page can be short or even empty
 * before the end; stop only when nextCursor is absent" [api.md "List"]. Quirky pages never lose or repeat
 * an item: the cursor always points just after the last item actually returned.
 */
import { DEFAULT_PAGE_SIZE, EMPTY_PAGE_EVERY, MAX_PAGE_SIZE, SHORT_PAGE_EVERY } from "./limits";

/** Position after which the next page starts: (shareTime, shareId) of the last item returned. */
export interface Position {
  time: number;
  id: string;
}

export interface PageRequest {
  pageSize: number;
  /** null = the first page. */
  after: Position | null;
  asc: boolean;
}

export interface Quirks {
  shortPages: boolean;
  emptyPages: boolean;
  codeAsString: "never" | "always" | "alternate";
  /** `GET /task/list` names its array `taskListDtos` (the reference example's spelling) instead of `taskList`. */
  taskListDtos: boolean;
}

/**
 * Quirks are ON by default, so every client is tested against the documented drift; `taskListDtos` is off
 * (the reference's field table says `taskList`, its example `taskListDtos` [api.md "Handover"]).
 */
export const DEFAULT_QUIRKS: Quirks = {
  shortPages: true,
  emptyPages: true,
  codeAsString: "alternate",
  taskListDtos: false,
};

/** The first page: `pageCursor` absent or `0` [api.md "List"]. */
const FIRST_PAGE_CURSOR = "0";
/** sortType 4 = share time, the only one documented [api.md "List"]. */
const SORT_BY_SHARE_TIME = "4";
/** sortDirection 1 = ascending, 2 = descending (default) [api.md "List"]. */
const SORT_ASC = "1";
const SORT_DESC = "2";

function b64urlEncode(text: string): string {
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function b64urlDecode(text: string): string | null {
  if (!/^[A-Za-z0-9_-]+$/.test(text)) return null;
  try {
    return atob(text.replace(/-/g, "+").replace(/_/g, "/"));
  } catch {
    return null;
  }
}

/**
 * Cursor = base64url("start:<n>") or base64url("<shareTime>:<shareId>:<n>"). `n` is the page number that
 * issued it, so an empty page hands out a cursor different from the one it was given (same position).
 */
export function encodeCursor(after: Position | null, pageNo: number): string {
  return b64urlEncode(after ? `${after.time}:${after.id}:${pageNo}` : `start:${pageNo}`);
}

/** Decodes a cursor; `undefined` when it is not one this simulator issued. */
export function decodeCursor(cursor: string): Position | null | undefined {
  const text = b64urlDecode(cursor);
  if (text === null) return undefined;
  if (/^start:\d+$/.test(text)) return null;
  const m = /^(\d{1,15}):(\d{19}):\d+$/.exec(text);
  if (!m?.[1] || !m[2]) return undefined;
  return { time: Number(m[1]), id: m[2] };
}

/** Parses pageSize / pageCursor / sortType / sortDirection; returns an error message on bad input. */
export function parsePaging(params: URLSearchParams): PageRequest | string {
  const rawSize = params.get("pageSize");
  let pageSize = DEFAULT_PAGE_SIZE;
  if (rawSize !== null) {
    if (!/^\d{1,4}$/.test(rawSize)) return "pageSize must be an integer";
    pageSize = Number(rawSize);
    if (pageSize < 1 || pageSize > MAX_PAGE_SIZE) return `pageSize must be within 1..${MAX_PAGE_SIZE}`;
  }
  const sortType = params.get("sortType");
  if (sortType !== null && sortType !== SORT_BY_SHARE_TIME) return "sortType must be 4";
  const direction = params.get("sortDirection");
  if (direction !== null && direction !== SORT_ASC && direction !== SORT_DESC)
    return "sortDirection must be 1 or 2";
  const rawCursor = params.get("pageCursor");
  let after: Position | null = null;
  if (rawCursor !== null && rawCursor !== "" && rawCursor !== FIRST_PAGE_CURSOR) {
    const decoded = decodeCursor(rawCursor);
    if (decoded === undefined) return "pageCursor is invalid";
    after = decoded;
  }
  return { pageSize, after, asc: direction === SORT_ASC };
}

export interface PageRow {
  share_time: number;
  share_id: string;
}

/** SQL fragment + bindings selecting rows strictly after `after` in the requested order. */
export function keysetClause(req: PageRequest): {
  where: string;
  order: string;
  bindings: (string | number)[];
} {
  const order = req.asc ? "share_time ASC, share_id ASC" : "share_time DESC, share_id DESC";
  if (!req.after) return { where: "1 = 1", order, bindings: [] };
  const op = req.asc ? ">" : "<";
  return { where: `(share_time, share_id) ${op} (?, ?)`, order, bindings: [req.after.time, req.after.id] };
}

/**
 * Cuts one page out of `rows` (fetched with limit pageSize + 1), applying the quirks for page `pageNo`:
 * every EMPTY_PAGE_EVERY-th page is empty, every SHORT_PAGE_EVERY-th page holds half a page, when more remain.
 */
export function cutPage<T extends PageRow>(
  rows: T[],
  req: PageRequest,
  quirks: Quirks,
  pageNo: number,
): { items: T[]; nextCursor?: string; quirk: "empty" | "short" | null } {
  let take = req.pageSize;
  let quirk: "empty" | "short" | null = null;
  if (quirks.emptyPages && pageNo % EMPTY_PAGE_EVERY === 0 && rows.length > 0) {
    take = 0;
    quirk = "empty";
  } else if (quirks.shortPages && pageNo % SHORT_PAGE_EVERY === 0 && req.pageSize > 1 && rows.length > 1) {
    take = Math.max(1, Math.floor(req.pageSize / 2));
    quirk = "short";
  }
  const items = rows.slice(0, take);
  if (rows.length <= items.length) return { items, quirk: items.length < req.pageSize ? quirk : null };
  const last = items.at(-1);
  const after = last ? { time: last.share_time, id: last.share_id } : req.after;
  return { items, nextCursor: encodeCursor(after, pageNo), quirk };
}
