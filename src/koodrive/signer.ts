/**
 * KooDrive app authentication ("App-based Authentication Generation Rule", steps 1-4).
 *
 * Pure: the caller supplies the date, the body bytes and the credentials. The simulator verifies with its
 * own reading of the contract (simulator/src/app-auth.ts), and test/signer.test.ts checks the two agree.
 * @see ../../../shared/koodrive-api.md#authentication-app-authentication-server-to-server
 */

import { sha256Hex, toHex } from "../bytes";

export const SIGNING_ALGORITHM = "HMAC-SHA256";
/** Headers we always sign; the doc requires x-date and x-user-id, and we also sign host. */
export const DEFAULT_SIGNED_HEADERS = ["host", "x-date", "x-user-id"] as const;
/** A signature (and X-Date) is valid for 15 minutes [doc]. */
export const SIGNATURE_VALIDITY_S = 15 * 60;
/** X-Traceid, when sent, is exactly 58 characters [doc]. */
export const TRACE_ID_LENGTH = 58;

const encoder = new TextEncoder();

/** RFC 3986 percent-encoding: unreserved A-Za-z0-9-_.~ kept, everything else %XY upper-case. */
export function percentEncode(value: string): string {
  return encodeURIComponent(value).replace(
    /[!'()*]/g,
    (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/** Step 1.2: each path segment percent-encoded, with a trailing `/` appended when missing. */
export function canonicalUri(pathname: string): string {
  const encoded = pathname
    .split("/")
    .map((segment) => percentEncode(safeDecode(segment)))
    .join("/");
  return encoded.endsWith("/") ? encoded : `${encoded}/`;
}

/** Step 1.3: `name=value` pairs encoded, sorted by name (then value) in character-code order, joined by `&`. */
export function canonicalQuery(search: string): string {
  const raw = search.startsWith("?") ? search.slice(1) : search;
  if (raw === "") return "";
  const pairs = raw
    .split("&")
    .filter((part) => part !== "")
    .map((part) => {
      const eq = part.indexOf("=");
      const name = eq === -1 ? part : part.slice(0, eq);
      const value = eq === -1 ? "" : part.slice(eq + 1);
      const decode = (s: string) => safeDecode(s.replace(/\+/g, " "));
      return [percentEncode(decode(name)), percentEncode(decode(value))] as const;
    });
  pairs.sort(([an, av], [bn, bv]) => (an < bn ? -1 : an > bn ? 1 : av < bv ? -1 : av > bv ? 1 : 0));
  return pairs.map(([n, v]) => `${n}=${v}`).join("&");
}

export { sha256Hex, toHex };

async function hmacKey(secret: string, usage: "sign" | "verify"): Promise<CryptoKey> {
  return crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, [
    usage,
  ]);
}

export interface SignInput {
  method: string;
  /** Absolute URL, exactly as requested. Its host (with port) is the signed `host`. */
  url: string;
  /** Header values by lower-case name; must hold x-date and x-user-id. `host` defaults to the URL's. */
  headers: Record<string, string>;
  body?: Uint8Array | string;
  signedHeaders?: readonly string[];
}

export interface Signed {
  canonicalRequest: string;
  stringToSign: string;
  signature: string;
  signedHeaders: string;
}

/** Steps 1-2: the canonical request and the string to sign. */
export async function stringToSign(input: SignInput): Promise<Omit<Signed, "signature">> {
  const url = new URL(input.url);
  const names = [...(input.signedHeaders ?? DEFAULT_SIGNED_HEADERS)].map((n) => n.toLowerCase()).sort();
  const headerValue = (name: string): string => {
    if (name === "host") return input.headers.host ?? url.host;
    const value = input.headers[name];
    if (value === undefined) throw new Error(`signed header ${name} has no value`);
    return value;
  };
  const canonicalHeaders = names.map((n) => `${n}:${headerValue(n).trim()}\n`).join("");
  const signedHeaders = names.join(";");
  const canonicalRequest = [
    input.method.toUpperCase(),
    canonicalUri(url.pathname),
    canonicalQuery(url.search),
    canonicalHeaders,
    signedHeaders,
    await sha256Hex(input.body ?? ""),
  ].join("\n");
  return {
    canonicalRequest,
    stringToSign: `${SIGNING_ALGORITHM}\n${await sha256Hex(canonicalRequest)}`,
    signedHeaders,
  };
}

/** Steps 1-3: sign a request with the AppSecret. */
export async function sign(input: SignInput, appSecret: string): Promise<Signed> {
  const parts = await stringToSign(input);
  const key = await hmacKey(appSecret, "sign");
  const mac = await crypto.subtle.sign("HMAC", key, encoder.encode(parts.stringToSign));
  return { ...parts, signature: toHex(new Uint8Array(mac)) };
}

/** The `Authorization` header value: one space after the algorithm, commas, no other spaces. */
export function authorizationHeader(
  appId: string,
  signed: Pick<Signed, "signedHeaders" | "signature">,
): string {
  return `${SIGNING_ALGORITHM} AppId=${appId},SignedHeaders=${signed.signedHeaders},Signature=${signed.signature}`;
}

export interface ParsedAuthorization {
  appId: string;
  signedHeaders: string[];
  signature: string;
}

/** Parses an `Authorization` header; returns null when it is not well formed. */
export function parseAuthorization(header: string | null | undefined): ParsedAuthorization | null {
  if (!header) return null;
  const match = /^HMAC-SHA256 AppId=([^,\s]+),SignedHeaders=([a-z0-9;-]+),Signature=([0-9a-f]{64})$/.exec(
    header,
  );
  if (!match) return null;
  const [, appId, signedHeaders, signature] = match;
  if (!appId || !signedHeaders || !signature) return null;
  return { appId, signedHeaders: signedHeaders.split(";"), signature };
}

/** Verifies a signature in constant time (HMAC verify), never by string comparison. */
export async function verifySignature(
  input: SignInput,
  appSecret: string,
  signatureHex: string,
): Promise<boolean> {
  if (!/^[0-9a-f]{64}$/.test(signatureHex)) return false;
  const parts = await stringToSign(input);
  const key = await hmacKey(appSecret, "verify");
  const sig = new Uint8Array(32);
  for (let i = 0; i < 32; i++) sig[i] = Number.parseInt(signatureHex.slice(i * 2, i * 2 + 2), 16);
  return crypto.subtle.verify("HMAC", key, sig, encoder.encode(parts.stringToSign));
}

/** `X-Date` format: UTC `YYYYMMDDTHHMMSSZ`. */
export function formatXDate(date: Date): string {
  return `${date.toISOString().slice(0, 19).replace(/[-:]/g, "")}Z`;
}

/** Parses `X-Date`; null when malformed. */
export function parseXDate(value: string | null | undefined): Date | null {
  const m = value ? /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value) : null;
  if (!m) return null;
  const [, y, mo, d, h, mi, s] = m.map(Number) as number[];
  const ms = Date.UTC(y as number, (mo as number) - 1, d, h, mi, s);
  const date = new Date(ms);
  return Number.isNaN(ms) || formatXDate(date) !== value ? null : date;
}
