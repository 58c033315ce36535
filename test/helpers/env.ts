/**
 * Calls the Worker with some settings changed (e.g. RESOLVE_BY_NAME=confirm): the same app and bindings
 * as the real entry, with the given vars layered over the test env. Workflows started this way run with
 * the real env, which is why a run records the policies it was accepted under.
 */
import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { vi } from "vitest";
import worker from "../../src/index";
import { HR_SECRET, signHr, uniqueId } from "./worker";

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

/** Headers of an HR delivery signed by the official `standardwebhooks` library (`signHr`). */
export function signedHrHeaders(id: string, body: string, at = new Date()): Headers {
  const timestamp = Math.floor(at.getTime() / 1000);
  return new Headers({
    "content-type": "application/json",
    "webhook-id": id,
    "webhook-timestamp": String(timestamp),
    "webhook-signature": signHr(HR_SECRET, id, timestamp, body),
  });
}

/**
 * Sends a signed HR delivery (an event object, or its JSON exactly as it goes on the wire) through the real
 * entry with `vars` layered over the env, as `callWith` does; `id` is its webhook-id.
 */
export function postHr(
  event: unknown,
  vars: Record<string, string> = {},
  id = uniqueId(),
): Promise<Response> {
  const body = typeof event === "string" ? event : JSON.stringify(event);
  return callWith(vars, "/webhooks/hr", { method: "POST", headers: signedHrHeaders(id, body), body });
}

/** Runs the Worker's scheduled handler (the sweeper's Cron Trigger) once, to completion. */
export async function sweep(): Promise<void> {
  const ctx = createExecutionContext();
  await worker.scheduled(createScheduledController({ cron: "*/5 * * * *" }), env as never, ctx);
  await waitOnExecutionContext(ctx);
}

/** Runs `fn` with the isolate's clock (the Worker's and its Durable Objects' `Date`) set to `when`. */
export async function at<T>(when: number, fn: () => Promise<T>): Promise<T> {
  vi.useFakeTimers({ toFake: ["Date"] });
  vi.setSystemTime(when);
  try {
    return await fn();
  } finally {
    vi.useRealTimers();
  }
}
