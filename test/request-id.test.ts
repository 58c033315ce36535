import { describe, expect, it } from "vitest";
import { admin, call, offboardedEvent, sendHr, uniqueId, waitForRun } from "./helpers/worker";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

interface AuditRecords {
  records: Array<{ type: string; requestId?: string; reason?: string }>;
}

/** An HR event (dry run, unknown person) with the given X-Request-Id; the answer and its audit trail. */
async function hrEventWith(requestId: string) {
  const hrId = uniqueId("E-rid");
  const res = await sendHr(
    { ...offboardedEvent({ id: hrId }), options: { dryRun: true } },
    { headers: { "x-request-id": requestId } },
  );
  expect(res.status).toBe(202);
  // The run's first step writes the `request.received` record: wait for the run to finish.
  await waitForRun(((await res.clone().json()) as { runId: string }).runId);
  const text = await (await admin(`/audit?user=${hrId}&limit=20`)).text();
  const records = (JSON.parse(text) as AuditRecords).records;
  return { res, text, records };
}

describe("X-Request-Id", () => {
  it("keeps a client's id made of [A-Za-z0-9._:-] (1 to 64) in the answer and the audit trail", async () => {
    for (const id of ["req-123.abc:7", "a", "0af7651916cd43dd8448eb211c80319c", `R${"x".repeat(63)}`]) {
      const { res, records } = await hrEventWith(id);
      expect(res.headers.get("x-request-id")).toBe(id);
      expect(records.find((r) => r.type === "request.received")?.requestId).toBe(id);
    }
  });

  // Newlines cannot be sent at all: the runtime's Headers refuse them (and strip them at either end).
  const hostile = [
    "<script>alert(1)</script>",
    "x".repeat(200),
    `R${"x".repeat(64)}`,
    '=HYPERLINK("http://evil.example","x")',
    "-1+2",
    "=A1",
    "-A1",
    "@SUM(A1)",
    ".hidden",
    "tab\tinside",
    "space inside",
    'quote"inside',
    "semi;colon",
    "caf\u00e9",
  ];

  it("replaces any other id with a generated one: it reaches no response header and no audit record", async () => {
    for (const id of hostile) {
      const { res, text, records } = await hrEventWith(id);
      const generated = res.headers.get("x-request-id") ?? "";
      expect(generated, id).toMatch(UUID);
      expect(records.find((r) => r.type === "request.received")?.requestId).toBe(generated);
      expect(text).not.toContain(JSON.stringify(id).slice(1, -1));
    }
    // An unauthenticated (forged) request: the hostile id reaches neither the answer nor a security record
    // (whether one is written depends on the per-source limiter, shared with other test files).
    const forged = await sendHr(offboardedEvent({ id: "E-forged" }), {
      signature: "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
      headers: { "x-request-id": "<img src=x onerror=alert(1)>" },
    });
    expect(forged.status).toBe(401);
    const generated = forged.headers.get("x-request-id") ?? "";
    expect(generated).toMatch(UUID);
    expect(((await forged.json()) as { error: { requestId: string } }).error.requestId).toBe(generated);
    expect(await (await admin("/audit?limit=100")).text()).not.toContain("onerror");
  });

  it("an error answer's envelope and header carry the same (generated) id", async () => {
    const res = await call("/no/such/route", { headers: { "x-request-id": "<b>" } });
    expect(res.status).toBe(404);
    const id = res.headers.get("x-request-id") ?? "";
    expect(id).toMatch(UUID);
    expect(((await res.json()) as { error: { requestId: string } }).error.requestId).toBe(id);
  });
});
