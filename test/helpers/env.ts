/**
 * Calls the Worker with some settings changed (e.g. RESOLVE_BY_NAME=confirm): the same app and bindings
 * as the real entry, with the given vars layered over the test env. Workflows started this way run with
 * the real env, which is why a run records the policies it was accepted under.
 */
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { Webhook } from "standardwebhooks";
import worker from "../../src/index";

const ORIGIN = "https://offboard.example.com";

export async function callWith(
  vars: Record<string, string>,
  path: string,
  init: RequestInit = {},
): Promise<Response> {
  const ctx = createExecutionContext();
  const res = await worker.fetch(
    new Request(`${ORIGIN}${path}`, init),
    { ...env, ...vars } as Parameters<typeof worker.fetch>[1],
    ctx,
  );
  await waitOnExecutionContext(ctx);
  return res;
}

/** The published Standard Webhooks secret, configured first in HR_WEBHOOK_SECRETS (vitest.config.ts). */
const HR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/**
 * Headers of an HR delivery signed by the official `standardwebhooks` library (an oracle independent of the
 * service's verifier).
 */
export function signedHrHeaders(id: string, body: string, at = new Date()): Headers {
  const signature = new Webhook(HR_SECRET).sign(id, at, body);
  return new Headers({
    "content-type": "application/json",
    "webhook-id": id,
    "webhook-timestamp": String(Math.floor(at.getTime() / 1000)),
    "webhook-signature": signature,
  });
}
