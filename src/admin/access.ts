/**
 * Cloudflare Access in front of the admin API and the console: the JWT Access adds to each request it let
 * through, verified inside the Worker (a `workers.dev` or preview URL reaches the code without Access, so
 * the header's presence proves nothing). Checks from /work/shared/operator-surface.md "Cloudflare Access":
 * RS256 only; the key picked by `kid` from `${ACCESS_TEAM_DOMAIN}/cdn-cgi/access/certs` (cached, refetched
 * once on an unknown `kid`, with a cooldown); signature; `iss` exactly the configured team domain; `aud`
 * contains ACCESS_AUD; `exp` required, `exp`/`nbf` with a small skew. Verified by `jose`, never by hand.
 */
import type { Context } from "hono";
import { getCookie } from "hono/cookie";
import { createRemoteJWKSet, errors, type JWTPayload, type JWTVerifyGetKey, jwtVerify } from "jose";
import { asciiLower, type Config, MAX_IDENTITY_LENGTH, PLAIN_EMAIL } from "../env";
import { ApiError, ConfigError } from "../errors";

/** Where Access puts the token: this header (preferred), else the browser's cookie [operator-surface.md]. */
export const ACCESS_HEADER = "cf-access-jwt-assertion";
export const ACCESS_COOKIE = "CF_Authorization";
/** The JWKS path under the team domain [operator-surface.md "Keys"]. */
export const ACCESS_CERTS_PATH = "/cdn-cgi/access/certs";

/**
 * Clock skew accepted on `exp` and `nbf`, in seconds: Access tokens are short-lived, so the skew stays
 * small (operator-surface.md "Checks": "a small skew").
 */
export const ACCESS_CLOCK_TOLERANCE_S = 30;
/** A fetched key set is used for 10 minutes (jose's default; Access rotates keys about every 6 weeks). */
const JWKS_CACHE_MAX_AGE_MS = 10 * 60_000;
/**
 * After a fetch, an unknown `kid` does not refetch for 30 s (jose's default): forged `kid`s cannot turn
 * into a flood of requests to the team domain [operator-surface.md "Checks"].
 */
const JWKS_COOLDOWN_MS = 30_000;
/** How long one key-set fetch may take before the request answers 503. */
const JWKS_TIMEOUT_MS = 5_000;
/**
 * Key sets kept per isolate, one per team domain (a deployment has one; the bound only matters when the
 * setting changes, or in tests, which use one team domain each).
 */
const MAX_KEY_SETS = 16;

/** Access as configured: off, on, or set up wrongly (the admin routes answer `misconfigured`). */
export type AccessSettings =
  | { state: "off" }
  | { state: "on"; teamDomain: string; aud: string }
  | { state: "broken"; problem: string };

/**
 * Access from the configuration. Fail closed: a team domain without an AUD tag is never "Access without an
 * audience check" (operator-surface.md "Fail closed"), and an AUD tag without a team domain is never "no
 * Access" (which would let the local identity of `npm start` in).
 */
export function accessSettings(config: Config): AccessSettings {
  const { origin, problem } = config.ACCESS_TEAM_DOMAIN;
  if (problem) return { state: "broken", problem };
  const aud = config.ACCESS_AUD;
  if (!origin)
    return aud
      ? { state: "broken", problem: "ACCESS_AUD is set but ACCESS_TEAM_DOMAIN is not" }
      : { state: "off" };
  if (!aud)
    return {
      state: "broken",
      problem: "ACCESS_TEAM_DOMAIN is set but ACCESS_AUD is empty: set the Access application's AUD tag",
    };
  return { state: "on", teamDomain: origin, aud };
}

/** Throws the admin routes' `misconfigured` (generic to the caller, the problem in the log) when Access is broken. */
export function assertAccessUsable(settings: AccessSettings): void {
  if (settings.state === "broken") throw new ConfigError(`invalid configuration: ${settings.problem}`);
}

/** The key set could not be fetched or read: the request answers 503, never 401 or 500. */
class KeysUnavailable extends Error {}

const keySets = new Map<string, JWTVerifyGetKey>();

/**
 * The team domain's remote key set, created once per isolate (module scope), so its cache and cooldown
 * hold across requests. Failed fetches are not cached by jose: the next request tries again.
 */
function keySetFor(teamDomain: string): JWTVerifyGetKey {
  const known = keySets.get(teamDomain);
  if (known) return known;
  const remote = createRemoteJWKSet(new URL(ACCESS_CERTS_PATH, teamDomain), {
    cacheMaxAge: JWKS_CACHE_MAX_AGE_MS,
    cooldownDuration: JWKS_COOLDOWN_MS,
    timeoutDuration: JWKS_TIMEOUT_MS,
  });
  const getKey: JWTVerifyGetKey = async (header, token) => {
    try {
      return await remote(header, token);
    } catch (err) {
      // No key with that kid (after the one refetch the cooldown allows) is the token's fault: 401.
      if (err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys)
        throw err;
      // Anything else happened fetching or reading the key set (network, timeout, non-200, not a JWKS).
      throw new KeysUnavailable(String(err));
    }
  };
  if (keySets.size >= MAX_KEY_SETS) {
    const oldest = keySets.keys().next().value;
    if (oldest !== undefined) keySets.delete(oldest);
  }
  keySets.set(teamDomain, getKey);
  return getKey;
}

/** The Access token a request carries: the header, else the cookie; undefined when neither is there. */
export function accessTokenOf(c: Context): string | undefined {
  const header = c.req.header(ACCESS_HEADER);
  if (header !== undefined) return header.trim();
  const cookie = getCookie(c, ACCESS_COOKIE);
  return cookie === undefined ? undefined : cookie.trim();
}

/** Who a verified Access token names: a person (`email`) or a service token (`common_name`). */
export type AccessIdentity =
  | { kind: "person"; email: string }
  | { kind: "service-token"; commonName: string };

const textClaim = (payload: JWTPayload, name: string): string => {
  const value = payload[name];
  return typeof value === "string" ? value.trim() : "";
};

/** The identity of verified claims, or why there is none. */
function identityOf(payload: JWTPayload): AccessIdentity | string {
  const email = textClaim(payload, "email");
  if (email) {
    // Printable ASCII with exactly one `@` (IdPs send IDN domains as punycode): a look-alike in another
    // script must never be taken for, or recorded as, a listed person.
    if (email.length > MAX_IDENTITY_LENGTH || !PLAIN_EMAIL.test(email))
      return "Access token email is not a plain ASCII e-mail";
    return { kind: "person", email: asciiLower(email) };
  }
  // An Access service token: `common_name` is its client id, `sub` is empty [operator-surface.md].
  const commonName = textClaim(payload, "common_name");
  if (commonName && !textClaim(payload, "sub")) {
    if (commonName.length > MAX_IDENTITY_LENGTH) return "Access token common_name is too long";
    if (!/^[\x21-\x7e]+$/.test(commonName)) return "Access token common_name is not plain ASCII";
    return { kind: "service-token", commonName: asciiLower(commonName) };
  }
  return "Access token names no e-mail and is no service token";
}

/**
 * Verifies an Access JWT: the identity, or why it is refused (one 401 for the caller). Throws ApiError
 * `unavailable` (503) when the key set cannot be fetched: the caller is told to retry, not that their
 * token is bad.
 */
export async function verifyAccessToken(
  token: string,
  settings: { teamDomain: string; aud: string },
): Promise<AccessIdentity | string> {
  try {
    const { payload } = await jwtVerify(token, keySetFor(settings.teamDomain), {
      issuer: settings.teamDomain,
      audience: settings.aud,
      algorithms: ["RS256"],
      clockTolerance: ACCESS_CLOCK_TOLERANCE_S,
      requiredClaims: ["exp"],
    });
    return identityOf(payload);
  } catch (err) {
    if (err instanceof KeysUnavailable) {
      console.error(
        JSON.stringify({
          level: "error",
          msg: "Access key set unavailable",
          teamDomain: settings.teamDomain,
          error: err.message,
        }),
      );
      throw new ApiError(
        "unavailable",
        `Cloudflare Access's signing keys could not be fetched from ${settings.teamDomain}${ACCESS_CERTS_PATH}; try again in a minute (if this persists, check ACCESS_TEAM_DOMAIN)`,
      );
    }
    // jose's messages name the failed check (`"exp" claim timestamp check failed`), never the token.
    if (err instanceof errors.JOSEError) return `invalid Access token: ${err.message}`;
    return "invalid Access token: malformed";
  }
}
