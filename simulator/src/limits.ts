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
