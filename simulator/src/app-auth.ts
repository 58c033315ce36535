/**
 * KooDrive app authentication, the simulator's own reading of the contract ("Authentication: app
 * authentication", steps 1-4 of the App-based Authentication Generation Rule). Written from the contract
 * alone and sharing no code with the service's signer (src/koodrive/signer.ts), so the two check each other.
 *
 * Pure: no I/O, the clock is an argument. `verifyAppAuth` answers what is wrong with a request (or who it
 * acts as); `auth.ts` turns that into the simulator's status and code. `signAppAuth` is the companion the
 * tests use to call the simulator directly.
 * @see ../../../shared/koodrive-api.md#authentication-app-authentication-server-to-server
 */

/** The only algorithm [api.md "Authentication": `Authorization` header and step 2]. */
export const ALGORITHM = "HMAC-SHA256";
/** X-Date within 15 minutes of server time, and not in the future [api.md, `X-Date` row and step 4]. */
export const SIGNATURE_VALIDITY_MS = 15 * 60 * 1000;
/** X-Traceid, when sent, is exactly 58 characters [api.md, `X-Traceid` row]. */
export const TRACE_ID_LENGTH = 58;
/** CanonicalHeaders "must include x-date and x-user-id" [api.md step 1.4]. */
export const REQUIRED_SIGNED_HEADERS = ["x-date", "x-user-id"] as const;
/** X-User-Id is a 19-digit numeric string [api.md, `X-User-Id` row]. */
const USER_ID_PATTERN = /^\d{19}$/;
/**
 * `HMAC-SHA256 AppId=<appId>,SignedHeaders=<names>,Signature=<hex>`: one space after the algorithm, commas,
 * no other spaces; the signature is lowercase hex of an HMAC-SHA256 (32 bytes) [api.md, steps 3 and 4].
 */
const AUTHORIZATION_PATTERN =
  /^HMAC-SHA256 AppId=([^,\s]+),SignedHeaders=([^,\s]+),Signature=([0-9a-f]{64})$/;
/** A header name as it may appear in SignedHeaders: lower case [api.md step 1.5]. */
const SIGNED_HEADER_NAME = /^[a-z0-9-]+$/;
/** `YYYYMMDDTHHMMSSZ`, UTC [api.md, `X-Date` row]. */
const X_DATE_PATTERN = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;

const utf8 = new TextEncoder();

/** RFC 3986 unreserved characters, the only ones left as they are [api.md step 1.3]. */
function isUnreserved(byte: number): boolean {
  return (
    (byte >= 0x41 && byte <= 0x5a) || // A-Z
    (byte >= 0x61 && byte <= 0x7a) || // a-z
    (byte >= 0x30 && byte <= 0x39) || // 0-9
    byte === 0x2d || // -
    byte === 0x5f || // _
    byte === 0x2e || // .
    byte === 0x7e // ~
  );
}

/** Percent-encodes the UTF-8 bytes of `value`: unreserved kept, every other byte `%XY` upper-case hex. */
export function percentEncode(value: string): string {
  let out = "";
  for (const byte of utf8.encode(value)) {
    out += isUnreserved(byte)
      ? String.fromCharCode(byte)
      : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

/** One `%XY` escape: a `%` and two hex digits. */
const ESCAPE = /^%[0-9A-Fa-f]{2}/;

/**
 * Percent-decodes a path segment as it arrived: each `%XY` becomes its byte, a `%` not followed by two hex
 * digits stays literal, and the bytes are read as UTF-8 (invalid sequences as U+FFFD). This is how a URL
 * parser decodes (WHATWG "percent-decode"), so the signature covers the value the endpoint acts on.
 */
export function percentDecode(segment: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < segment.length; ) {
    if (ESCAPE.test(segment.slice(i, i + 3))) {
      bytes.push(Number.parseInt(segment.slice(i + 1, i + 3), 16));
      i += 3;
    } else {
      const char = String.fromCodePoint(segment.codePointAt(i) as number);
      bytes.push(...utf8.encode(char));
      i += char.length;
    }
  }
  return new TextDecoder().decode(new Uint8Array(bytes));
}

/**
 * Step 1.2: the URI path with each segment percent-encoded, and a `/` appended when it does not end with one.
 * A segment is decoded first, so a segment sent as `a%20b` or `a b` signs as `a%20b` alike.
 */
export function canonicalPath(pathname: string): string {
  const path = pathname
    .split("/")
    .map((segment) => percentEncode(percentDecode(segment)))
    .join("/");
  return path.endsWith("/") ? path : `${path}/`;
}

/**
 * Step 1.3: each `name=value` percent-encoded (`=` kept for an empty value), sorted by name in character-code
 * order (equal names by value), joined with `&`; "" for no query. The query is read as a form query
 * (`URLSearchParams`: `+` is a space) [inferred: the contract canonicalises names and values, not the raw
 * string; this is how the endpoints read their parameters]. Names are compared once encoded: the encoded
 * string is what the canonical request holds, and it is ASCII, so "character-code order" is unambiguous.
 */
export function canonicalQuery(search: string): string {
  const pairs = [...new URLSearchParams(search)].map(
    ([n, v]) => [percentEncode(n), percentEncode(v)] as const,
  );
  const order = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
  pairs.sort(([an, av], [bn, bv]) => order(an, bn) || order(av, bv));
  return pairs.map(([n, v]) => `${n}=${v}`).join("&");
}

/** Lowercase hex of bytes. */
function hex(bytes: ArrayBuffer): string {
  return [...new Uint8Array(bytes)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Lowercase hex SHA-256 [api.md steps 1.6 and 2]. */
export async function sha256Hex(data: Uint8Array | string): Promise<string> {
  const bytes = typeof data === "string" ? utf8.encode(data) : data;
  return hex(await crypto.subtle.digest("SHA-256", bytes));
}

/** What a signature covers: the request as sent or received. */
export interface SignedParts {
  method: string;
  /** The absolute URL: its path and query are signed. */
  url: string;
  /** The signed headers as `[lower-case name, value]`, sorted by name (the order of SignedHeaders). */
  headers: readonly (readonly [string, string])[];
  body: Uint8Array | string;
}

/** Step 1: the canonical request. */
export async function canonicalRequest(parts: SignedParts): Promise<string> {
  const url = new URL(parts.url);
  return [
    parts.method.toUpperCase(),
    canonicalPath(url.pathname),
    canonicalQuery(url.search),
    parts.headers.map(([name, value]) => `${name}:${value.trim()}\n`).join(""),
    parts.headers.map(([name]) => name).join(";"),
    await sha256Hex(parts.body),
  ].join("\n");
}

/** Step 2: `HMAC-SHA256` + `\n` + hex SHA-256 of the canonical request (no date line). */
export async function stringToSign(canonical: string): Promise<string> {
  return `${ALGORITHM}\n${await sha256Hex(canonical)}`;
}

function hmacKey(secret: string, usage: "sign" | "verify"): Promise<CryptoKey> {
  return crypto.subtle.importKey("raw", utf8.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, [
    usage,
  ]);
}

/** `X-Date` as `YYYYMMDDTHHMMSSZ`. */
export function formatXDate(date: Date): string {
  const p = (n: number, w = 2) => String(n).padStart(w, "0");
  return `${p(date.getUTCFullYear(), 4)}${p(date.getUTCMonth() + 1)}${p(date.getUTCDate())}T${p(date.getUTCHours())}${p(date.getUTCMinutes())}${p(date.getUTCSeconds())}Z`;
}

/** Parses `X-Date`; null unless it is a real UTC instant written as `YYYYMMDDTHHMMSSZ`. */
export function parseXDate(value: string | null): number | null {
  const m = value === null ? null : X_DATE_PATTERN.exec(value);
  if (!m) return null;
  const [y, mo, d, h, mi, s] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  const ms = Date.UTC(y, mo - 1, d, h, mi, s);
  // Date.UTC rolls 20261340 over into the next year: only an exact round trip is a real date.
  return formatXDate(new Date(ms)) === value ? ms : null;
}

export interface SignInput {
  method: string;
  url: string;
  userId: string;
  date: Date;
  body?: Uint8Array | string;
  /** Defaults to `host;x-date;x-user-id`, as the contract's examples sign. */
  signedHeaders?: readonly string[];
}

export interface SignOutput {
  canonicalRequest: string;
  stringToSign: string;
  signature: string;
  /** The headers to send: `authorization`, `x-date`, `x-user-id`. */
  headers: Record<string, string>;
}

/** Steps 1-3 and the header of step 4: signs a request with the app's credentials. */
export async function signAppAuth(
  input: SignInput,
  credentials: { appId: string; appSecret: string },
): Promise<SignOutput> {
  const names = [...(input.signedHeaders ?? ["host", ...REQUIRED_SIGNED_HEADERS])].sort();
  const values: Record<string, string> = { "x-date": formatXDate(input.date), "x-user-id": input.userId };
  const signed: Record<string, string> = { ...values, host: new URL(input.url).host };
  const canonical = await canonicalRequest({
    method: input.method,
    url: input.url,
    headers: names.map((name) => {
      const value = signed[name];
      if (value === undefined)
        throw new Error(`signAppAuth signs only host, x-date and x-user-id, not ${name}`);
      return [name, value] as const;
    }),
    body: input.body ?? "",
  });
  const sts = await stringToSign(canonical);
  const mac = await crypto.subtle.sign(
    "HMAC",
    await hmacKey(credentials.appSecret, "sign"),
    utf8.encode(sts),
  );
  const signature = hex(mac);
  return {
    canonicalRequest: canonical,
    stringToSign: sts,
    signature,
    headers: {
      ...values,
      authorization: `${ALGORITHM} AppId=${credentials.appId},SignedHeaders=${names.join(";")},Signature=${signature}`,
    },
  };
}

/**
 * Why a request is refused: `auth` (Authorization, AppId, signed headers, signature), `date` (X-Date
 * malformed or outside the window), `param` (X-Traceid length, X-User-Id format: KooDrive-level checks).
 */
export type AppAuthFailure = { ok: false; kind: "auth" | "date" | "param"; reason: string };
export type AppAuthResult = AppAuthFailure | { ok: true; userId: string };

export interface VerifyInput {
  method: string;
  /** The URL as received. */
  url: string;
  headers: { get(name: string): string | null };
  /** The raw body bytes, exactly as received. */
  body: Uint8Array;
  appId: string;
  appSecret: string;
  /** Server time. */
  now: Date;
}

const fail = (kind: AppAuthFailure["kind"], reason: string): AppAuthFailure => ({ ok: false, kind, reason });

/** SignedHeaders as sent: lower-case names, sorted, no repeats [api.md step 1.5]; null when not. */
function parseSignedHeaders(value: string): string[] | null {
  const names = value.split(";");
  const wellFormed = names.every(
    (n, i) => SIGNED_HEADER_NAME.test(n) && (i === 0 || (names[i - 1] as string) < n),
  );
  return wellFormed ? names : null;
}

function hexToBytes(value: string): Uint8Array {
  const out = new Uint8Array(value.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(value.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/**
 * Checks a received request: the Authorization header's form and AppId, that x-date and x-user-id are
 * signed, the X-Date window, the signature (constant-time HMAC verify over the recomputed string to sign),
 * then X-Traceid and X-User-Id. Whether the user exists is the caller's business (it needs the store).
 */
export async function verifyAppAuth(input: VerifyInput): Promise<AppAuthResult> {
  const auth = AUTHORIZATION_PATTERN.exec(input.headers.get("authorization") ?? "");
  if (!auth) return fail("auth", "malformed or missing Authorization header");
  const [, appId = "", signedHeaderList = "", signature = ""] = auth;
  if (appId !== input.appId) return fail("auth", "unknown AppId");
  const signedHeaders = parseSignedHeaders(signedHeaderList);
  if (!signedHeaders) return fail("auth", "SignedHeaders must be lower-case names, sorted, joined with ;");
  for (const name of REQUIRED_SIGNED_HEADERS) {
    if (!signedHeaders.includes(name)) return fail("auth", `SignedHeaders must include ${name}`);
  }

  const date = parseXDate(input.headers.get("x-date"));
  if (date === null) return fail("date", "X-Date must be YYYYMMDDTHHMMSSZ");
  const age = input.now.getTime() - date;
  if (age < 0) return fail("date", "X-Date is in the future");
  if (age > SIGNATURE_VALIDITY_MS) return fail("date", "X-Date is more than 15 minutes old");

  // Host is not among a received request's headers in workerd: the URL's host (with port) is what was
  // requested, and the contract signs exactly that [api.md, `Host` row].
  const host = new URL(input.url).host;
  const headers: [string, string][] = [];
  for (const name of signedHeaders) {
    const value = name === "host" ? host : input.headers.get(name);
    if (value === null) return fail("auth", `signed header ${name} is missing`);
    headers.push([name, value]);
  }
  const canonical = await canonicalRequest({
    method: input.method,
    url: input.url,
    headers,
    body: input.body,
  });
  const key = await hmacKey(input.appSecret, "verify");
  const sts = utf8.encode(await stringToSign(canonical));
  if (!(await crypto.subtle.verify("HMAC", key, hexToBytes(signature), sts))) {
    return fail("auth", "signature does not match");
  }

  const traceId = input.headers.get("x-traceid");
  if (traceId !== null && traceId.length !== TRACE_ID_LENGTH) {
    return fail("param", `X-Traceid must be exactly ${TRACE_ID_LENGTH} characters`);
  }
  const userId = input.headers.get("x-user-id") ?? "";
  if (!USER_ID_PATTERN.test(userId)) return fail("param", "X-User-Id must be a 19-digit user id");
  return { ok: true, userId };
}
