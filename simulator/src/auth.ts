/**
 * Verifies KooDrive app authentication on the exact request received, rejecting what KooDrive rejects.
 * Uses the project's signer, so client and simulator share one reading of the rule.
 * @see ../../../shared/koodrive-api.md#authentication-app-authentication-server-to-server
 */
import {
  parseAuthorization,
  parseXDate,
  SIGNATURE_VALIDITY_S,
  TRACE_ID_LENGTH,
  verifySignature,
} from "../../src/koodrive/signer";
import { Code, GatewayCode, USER_ID_PATTERN } from "./limits";

/** Headers the doc says must be signed [api.md step 1.4]. */
const REQUIRED_SIGNED_HEADERS = ["x-date", "x-user-id"] as const;

export interface AuthFailure {
  ok: false;
  status: number;
  code: number | string;
  msg: string;
}

export interface AuthSuccess {
  ok: true;
  userId: string;
}

export interface AuthInput {
  request: Request;
  /** The raw body bytes, read once by the caller. */
  body: Uint8Array;
  appId: string;
  appSecret: string;
  now: Date;
}

const badAuth = (reason: string): AuthFailure => ({
  ok: false,
  status: 401,
  code: GatewayCode.badAuth,
  msg: `Incorrect app authentication information: ${reason}`,
});

const badDate = (reason: string): AuthFailure => ({
  ok: false,
  status: 401,
  code: GatewayCode.badDate,
  msg: `Incorrect app authentication information: ${reason}`,
});

const paramInvalid = (msg: string): AuthFailure => ({ ok: false, status: 400, code: Code.paramInvalid, msg });

/**
 * Gateway-level checks: Authorization, X-Date window, signature over method, URL (host with port), signed
 * header values and raw body. Then KooDrive-level header checks: X-Traceid length and X-User-Id format.
 * Whether the user exists is checked by the caller (it needs the store).
 */
export async function verifyAppAuth(input: AuthInput): Promise<AuthFailure | AuthSuccess> {
  const { request, body, now } = input;
  const auth = parseAuthorization(request.headers.get("authorization"));
  if (!auth) return badAuth("malformed or missing Authorization header");
  if (auth.appId !== input.appId) return badAuth("unknown AppId");
  for (const name of REQUIRED_SIGNED_HEADERS) {
    if (!auth.signedHeaders.includes(name)) return badAuth(`SignedHeaders must include ${name}`);
  }

  const xDate = request.headers.get("x-date");
  const date = parseXDate(xDate);
  if (!date) return badDate("X-Date must be YYYYMMDDTHHMMSSZ");
  const ageS = (now.getTime() - date.getTime()) / 1000;
  if (ageS < 0) return badDate("X-Date is in the future");
  if (ageS > SIGNATURE_VALIDITY_S) return badDate("X-Date is more than 15 minutes old");

  const url = new URL(request.url);
  const headers: Record<string, string> = {};
  for (const name of auth.signedHeaders) {
    // Host is not in the Headers object inside workerd; the URL's host (with port) is what was requested.
    const value = name === "host" ? url.host : request.headers.get(name);
    if (value === null) return badAuth(`signed header ${name} is missing`);
    headers[name] = value;
  }
  const valid = await verifySignature(
    { method: request.method, url: request.url, headers, body, signedHeaders: auth.signedHeaders },
    input.appSecret,
    auth.signature,
  );
  if (!valid) return badAuth("signature does not match");

  const traceId = request.headers.get("x-traceid");
  if (traceId !== null && traceId.length !== TRACE_ID_LENGTH) {
    return paramInvalid(`X-Traceid must be exactly ${TRACE_ID_LENGTH} characters`);
  }
  const userId = request.headers.get("x-user-id") ?? "";
  if (!USER_ID_PATTERN.test(userId)) return paramInvalid("X-User-Id must be a 19-digit user id");
  return { ok: true, userId };
}
