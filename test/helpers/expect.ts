/**
 * Assertions shared by the integration tests: our error envelope (one shape for every 4xx/5xx), "no run
 * was started", and the state snapshot a request that must have no effect is compared against.
 */
import { env } from "cloudflare:workers";
import { expect } from "vitest";
import { runIdFor } from "../../src/offboarding/start";
import { sim } from "./sim";
import { admin } from "./worker";

export interface ErrorEnvelope {
  error: {
    code: string;
    message: string;
    requestId: string;
    details?: Array<{ path: string; message: string }>;
  };
}

/**
 * The response is our envelope `{error:{code,message,requestId}}` with this status and code, and shows no
 * stack trace and no secret material. Returns the body.
 */
export async function expectEnvelope(res: Response, status: number, code: string): Promise<ErrorEnvelope> {
  expect(res.status).toBe(status);
  const body = (await res.json()) as ErrorEnvelope;
  expect(body.error).toMatchObject({ code, message: expect.any(String), requestId: expect.any(String) });
  expect(JSON.stringify(body)).not.toMatch(/at .*\.ts:\d+|whsec_/);
  return body;
}

/** No ledger and no Workflow instance exist for the run this source's event would have started. */
export async function expectNoRun(source: string, eventId: string): Promise<void> {
  const runId = await runIdFor(source, eventId);
  expect((await admin(`/runs/${runId}`)).status).toBe(404);
  await expect(env.OFFBOARDING.get(runId)).rejects.toThrow();
}

/** What a request that must have no effect is checked against: KV keys, KooDrive calls, holds, SCIM users. */
export interface Snapshot {
  keys: Set<string>;
  simCalls: number;
  holds: number;
  scimUsers: number;
}

export async function snapshot(): Promise<Snapshot> {
  const keys = new Set<string>();
  let cursor: string | undefined;
  do {
    const page = await env.AUDIT.list(cursor ? { cursor } : {});
    for (const k of page.keys) keys.add(k.name);
    cursor = page.list_complete ? undefined : page.cursor;
  } while (cursor);
  const holds = await env.HOLDS.getByName("holds").list();
  const scim = (await env.SCIM.getByName("directory").find(null, 1, 0)) as { total: number };
  return { keys, simCalls: (await sim.calls(0)).last, holds: holds.length, scimUsers: scim.total };
}
