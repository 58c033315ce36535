/**
 * One way to authenticate a request, for every source and the admin API (STYLE.md "raw bytes first", "one
 * error envelope"). Each source supplies a pure verifier in `sources/<name>/verify.ts`; this middleware does
 * the rest the same way for all of them:
 *
 * 1. source off -> its 404, misconfigured -> `misconfigured` (both from the source's `secrets`);
 * 2. read the raw body once (the route's `limitBody` runs before this, so an oversized body is never read);
 * 3. verify on those exact bytes, before anything is parsed (webhook-sources.md: senders sign the raw bytes);
 * 4. on failure: a rate-limited security record (`recordRejection`) and the source's one 401; the reason
 *    goes to the log and the audit trail, never to the caller;
 * 5. on success: the raw body and what the verifier established (e.g. the webhook id) in `c.var`, so the
 *    route only parses and acts.
 */
import type { MiddlewareHandler } from "hono";
import { recordRejection } from "./audit/security";
import type { AppEnv, Config } from "./env";

/** A verifier's answer: the facts it verified, or why not (for the log and the audit trail only). */
export type Verdict<Facts extends object = Record<never, never>> =
  | ({ ok: true } & Facts)
  | {
      ok: false;
      reason: string;
      /** The sender's event id, if it named one (audited with the rejection). */
      eventId?: string;
    };

/**
 * A pure verifier: the exact bytes received, the request headers, the source's configured secrets and the
 * current time (epoch milliseconds, injected so freshness is tested with a fixed clock).
 */
export type Verifier<Secrets, Facts extends object> = (
  rawBody: Uint8Array,
  headers: Headers,
  secrets: Secrets,
  now: number,
) => Promise<Verdict<Facts>>;

export interface AuthSpec<Secrets, Facts extends object> {
  /** The source name in security records (`hr`, `okta`, ..., `admin`). */
  source: string;
  /**
   * The secrets requests are checked against. Throws the source's 404 when it is off (no secret set) and a
   * ConfigError when its setting is invalid (`sourceSecrets` in env.ts).
   */
  secrets: (config: Config) => Secrets;
  verify: Verifier<Secrets, Facts>;
  /** The source's one 401 (its code and message never depend on why the request failed). */
  unauthorized: (secrets: Secrets) => Error;
  /**
   * `none` for credentials in a header (bearer tokens, shared secrets) where routes differ in whether they
   * have a body: the verifier then gets no bytes and the body is left for the route. Default `raw`.
   */
  body?: "raw" | "none";
}

/** What an authenticated route finds in `c.var`. */
export interface Authenticated<Facts extends object> {
  /** The exact bytes that were verified (empty when the source's spec reads no body). */
  rawBody: Uint8Array;
  /** What the verifier established besides `ok`. */
  verified: Facts;
}

export type AuthenticatedEnv<Facts extends object> = {
  Bindings: AppEnv["Bindings"];
  Variables: AppEnv["Variables"] & Authenticated<Facts>;
};

const NO_BODY = new Uint8Array(0);

/** The authentication middleware for one source (see the file comment for what it does, in order). */
export function authenticate<Secrets, Facts extends object>(
  spec: AuthSpec<Secrets, Facts>,
): MiddlewareHandler<AuthenticatedEnv<Facts>> {
  return async (c, next) => {
    const secrets = spec.secrets(c.var.config);
    const rawBody = spec.body === "none" ? NO_BODY : new Uint8Array(await c.req.arrayBuffer());
    const verdict = await spec.verify(rawBody, c.req.raw.headers, secrets, Date.now());
    if (!verdict.ok) {
      await recordRejection(c, spec.source, verdict.reason, verdict.eventId);
      throw spec.unauthorized(secrets);
    }
    const { ok: _ok, ...facts } = verdict;
    c.set("rawBody", rawBody);
    c.set("verified", facts as unknown as Facts);
    await next();
  };
}
