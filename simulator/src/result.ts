/** The endpoint result shape and the envelope helpers shared by the API modules. */
import { Code } from "./limits";

export interface ApiResult {
  status: number;
  body: Record<string, unknown>;
  /** Ids named in the request body (cancel / exit), for the call log. */
  ids?: number;
  /** Per-share faults or paging quirks applied, for the call log. */
  note?: string;
}

export const ok = (fields: Record<string, unknown> = {}): ApiResult => ({
  status: 200,
  body: { code: Code.ok, msg: "success", ...fields },
});

export const fail = (code: number, msg: string): ApiResult => ({ status: 400, body: { code, msg } });

/** Parses a JSON request body; a body that is not JSON is KooDrive's 13000101 "bad request". */
export function parseJsonBody(body: Uint8Array): { value: unknown } | ApiResult {
  try {
    return { value: JSON.parse(new TextDecoder().decode(body)) };
  } catch {
    return fail(Code.badRequest, "request body is not valid JSON");
  }
}

export const SHARE_NOT_FOUND = "share does not exist";
export const USER_NOT_FOUND = "user does not exist";
export const INNER_FAILURE = "inner server invoke failure";
