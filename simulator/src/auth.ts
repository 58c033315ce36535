/**
 * The simulator's answer to a request whose app authentication fails: the status and code KooDrive gives.
 * The checks themselves are in app-auth.ts (the simulator's own reading of the contract).
 * @see ../../../shared/koodrive-api.md#authentication-app-authentication-server-to-server
 */
import { type AppAuthFailure, verifyAppAuth as verify } from "./app-auth";
import { Code, GatewayCode } from "./limits";

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

/**
 * Gateway failures are 401 with an `APIGW` code [api.md "Endpoints and transport"]: a bad signature or
 * Authorization `APIGW.0301`, a bad X-Date `APIGW.0303`. Header checks behind the gateway (X-Traceid,
 * X-User-Id) are parameter errors, 400 `13000102` [api.md "Error codes"].
 */
function answer(failure: AppAuthFailure): AuthFailure {
  switch (failure.kind) {
    case "auth":
      return { ok: false, status: 401, code: GatewayCode.badAuth, msg: gatewayMsg(failure.reason) };
    case "date":
      return { ok: false, status: 401, code: GatewayCode.badDate, msg: gatewayMsg(failure.reason) };
    case "param":
      return { ok: false, status: 400, code: Code.paramInvalid, msg: failure.reason };
  }
}

const gatewayMsg = (reason: string) => `Incorrect app authentication information: ${reason}`;

/** Verifies the request as received; whether the user exists is checked by the caller (it needs the store). */
export async function verifyAppAuth(input: AuthInput): Promise<AuthFailure | AuthSuccess> {
  const { request } = input;
  const result = await verify({
    method: request.method,
    url: request.url,
    headers: request.headers,
    body: input.body,
    appId: input.appId,
    appSecret: input.appSecret,
    now: input.now,
  });
  return result.ok ? { ok: true, userId: result.userId } : answer(result);
}
