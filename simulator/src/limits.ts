/**
 * Every limit and fixed value the simulator enforces, in one place.
 * @see ../../../shared/koodrive-api.md (cited as "api.md" below)
 */

/** All KooDrive endpoints live under this prefix [api.md "Endpoints and transport"]. */
export const API_PREFIX = "/koodrive/ose/v1";
/** The control plane; never part of KooDrive. */
export const CONTROL_PREFIX = "/__sim";

/** List pages: `pageSize` default 100, max 100 [api.md "List"]. */
export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 100;
/** Cancel / exit take 1 to 100 ids per call [api.md "Cancel"]. */
export const MAX_IDS_PER_CALL = 100;
/** userList `limit` is 1-100 [api.md "Users"]. */
export const MAX_USER_LIST_LIMIT = 100;

/** `GET /task/list` pageSize: max 100 [api.md "Handover": "pageSize max 100"]; default 100 like the share list [inferred]. */
export const MAX_TASK_PAGE_SIZE = 100;
export const DEFAULT_TASK_PAGE_SIZE = 100;
/** `POST /auditlog` pageInfo.pageSize 1-100, default 10 [api.md "Handover": audit log]. */
export const MAX_AUDIT_PAGE_SIZE = 100;
export const DEFAULT_AUDIT_PAGE_SIZE = 10;

/** taskType 0 = handover ("transfer and delete"), the only type the contract names [api.md "Handover"]. */
export const HANDOVER_TASK_TYPE = 0;
/** Task statuses [api.md "Handover": "0 NEW, 1 EXECUTING, 2 SUCCESS, 3 FAILED"]. */
export const TaskStatus = { new: 0, executing: 1, success: 2, failed: 3 } as const;
/** The result code a failed task carries: the reference's example [api.md "Handover"]; meanings undocumented. */
export const TASK_FAILED_RESULT_CODE = "18000205";
/** First task id handed out after a reset: the id in the reference's create example [api.md "Handover"]. */
export const TASK_ID_BASE = 1534087020903704704n;
/** Audit-log ids: 19-digit strings from this base plus the entry's sequence number [inferred: format unknown]. */
export const AUDIT_LOG_ID_BASE = 1700000000000000000n;
/** The operator IP the audit log records for app calls (TEST-NET-1, RFC 5737): the app's address is unknown. */
export const SIM_OPERATOR_IP = "192.0.2.10";
/**
 * Default time a simulated task spends NEW, then EXECUTING ("over simulated seconds", issue 10); tests make
 * them near-instant through `PUT /__sim/tasks`. Upper bound for either: one week.
 */
export const DEFAULT_TASK_NEW_MS = 1_000;
export const DEFAULT_TASK_EXECUTING_MS = 2_000;
export const MAX_TASK_PHASE_MS = 7 * 86_400_000;

/** KooDrive user ids are 19-digit numeric strings [api.md "Authentication", X-User-Id]. */
export const USER_ID_PATTERN = /^\d{19}$/;
/** Share ids in the reference examples are 19-digit numeric strings too [api.md worked example]. */
export const SHARE_ID_PATTERN = /^\d{19}$/;

/** Error codes [api.md "Error codes seen in the reference"]. */
export const Code = {
  ok: 0,
  badRequest: 13000101,
  paramInvalid: 13000102,
  innerFailure: 13000201,
  notFound: 13000309,
} as const;

/** The audit log's `operateResult` for a successful operation [inferred: the values are undocumented]. */
export const AUDIT_RESULT_OK = 0;

/** Gateway codes (strings, APIGW prefix) [api.md "Endpoints and transport"]; exact numbers are [inferred]. */
export const GatewayCode = {
  badAuth: "APIGW.0301",
  badDate: "APIGW.0303",
  throttled: "APIGW.0308",
} as const;

/** Quirks: which list pages come back short or empty [api.md "List": "a page can be short or even empty"]. */
export const SHORT_PAGE_EVERY = 3;
export const EMPTY_PAGE_EVERY = 5;

/** The call log keeps at most this many rows (oldest dropped). */
export const MAX_CALL_LOG_ROWS = 200_000;
/** `GET /__sim/calls` returns at most this many rows per request. */
export const MAX_CALLS_PER_READ = 1000;
/** `seed` returns share ids only for users with at most this many shares (keeps responses small). */
export const MAX_SHARE_IDS_IN_SEED_RESPONSE = 1000;

/** Organisation id returned by `GET /users/{userId}` (one tenant per simulator). */
export const SIM_ORG_ID = "1505084218764540000";
/** The host short links point at. */
export const SHARE_LINK_HOST = "https://intl.myhuaweicloud-koodrive.com";
