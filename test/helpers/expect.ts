/**
 * Assertions shared by the integration tests: our error envelope (one shape for every 4xx/5xx), and "no
 * run was started" for a request that must have no effect.
 */
import { env } from "cloudflare:workers";
import { expect } from "vitest";
import { runIdFor } from "../../src/offboarding/start";
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
