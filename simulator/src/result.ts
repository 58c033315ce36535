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

export const SHARE_NOT_FOUND = "share does not exist";
export const USER_NOT_FOUND = "user does not exist";
export const INNER_FAILURE = "inner server invoke failure";
