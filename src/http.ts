import { zValidator as zv } from "@hono/zod-validator";
import type { Context, MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { ValidationTargets } from "hono/types";
import type * as z from "zod";
import type { AppEnv } from "./env";
import { ApiError, fieldErrors } from "./errors";

/**
 * zod validation with one hook for every route: a failure is our envelope, never a raw zod result.
 * Bodies that fail are 422 (well-formed request, invalid content); query and params are 400.
 */
export function validate<T extends z.ZodType, Target extends keyof ValidationTargets>(
  target: Target,
  schema: T,
) {
  return zv(target, schema, (result) => {
    if (!result.success) {
      const issues = result.error.issues;
      throw target === "json"
        ? new ApiError("invalid_body", "the request body is invalid", fieldErrors(issues))
        : new ApiError("bad_request", `invalid ${target} parameters`, fieldErrors(issues));
    }
  });
}

/** Refuses bodies over `maxBytes` with 413 before reading them (Content-Length or streamed count). */
export function limitBody(maxBytes: number): MiddlewareHandler<AppEnv> {
  return bodyLimit({
    maxSize: maxBytes,
    onError: () => {
      throw new ApiError("payload_too_large", `the request body is larger than ${maxBytes} bytes`);
    },
  });
}

/** The client's address as Cloudflare saw it. */
export function clientIp(c: Context): string {
  return c.req.header("cf-connecting-ip") ?? c.req.header("x-real-ip") ?? "unknown";
}

/** Reads the raw body bytes once (signatures are over the exact bytes received). */
export async function rawBody(c: Context): Promise<Uint8Array> {
  return new Uint8Array(await c.req.arrayBuffer());
}

/** Deeper JSON than this is refused: no sender needs it, and recursive code (clone, validation) must not overflow. */
export const MAX_JSON_DEPTH = 32;

/** Whether a parsed JSON value nests deeper than `max` (iterative: the check itself cannot overflow). */
function tooDeep(value: unknown, max: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop() as [unknown, number];
    if (typeof v !== "object" || v === null) continue;
    if (depth > max) return true;
    for (const child of Object.values(v)) stack.push([child, depth + 1]);
  }
  return false;
}

/** Parses a verified raw body as UTF-8 JSON; anything else is a 422 naming the problem. */
export function parseJsonBody(bytes: Uint8Array): unknown {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes));
  } catch {
    throw new ApiError("invalid_body", "the request body is not valid UTF-8 JSON", [
      { path: "(root)", message: "not valid JSON" },
    ]);
  }
  if (tooDeep(value, MAX_JSON_DEPTH)) {
    throw new ApiError("invalid_body", `the request body nests deeper than ${MAX_JSON_DEPTH} levels`, [
      { path: "(root)", message: "nested too deeply" },
    ]);
  }
  return value;
}

/** Whether `given` equals any of `secrets` (a rotation has two); every one is compared, in constant time. */
export async function matchesAnySecret(given: string, secrets: readonly string[]): Promise<boolean> {
  let ok = false;
  for (const secret of secrets) ok = (await secretEquals(given, secret)) || ok;
  return ok;
}

/** Compares two secrets in constant time (hashing first makes the lengths equal). */
export async function secretEquals(given: string, expected: string): Promise<boolean> {
  const enc = new TextEncoder();
  const [a, b] = await Promise.all([
    crypto.subtle.digest("SHA-256", enc.encode(given)),
    crypto.subtle.digest("SHA-256", enc.encode(expected)),
  ]);
  return crypto.subtle.timingSafeEqual(a, b);
}
