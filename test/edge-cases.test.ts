import { env } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import { AuditStore } from "../src/audit/store";
import { KooDriveClient, KooDriveError } from "../src/koodrive/client";
import { listAllShares } from "./helpers/koodrive";
import { sim } from "./helpers/sim";
import { admin, clearHolds, offboardedEvent, sendHr, waitForRun } from "./helpers/worker";

const LEAVER = "1505084218764549800";

beforeEach(async () => {
  await sim.reset();
  await clearHolds();
});

describe("a leaver whose last day is ahead", () => {
  it("keeps their links until effectiveAt, then revokes them", async () => {
    await sim.seed({ users: [{ userId: LEAVER, name: "Lee Later", shares: 5 }], seed: 41 });
    const effectiveAt = new Date(Date.now() + 3000).toISOString();
    const event = offboardedEvent({ id: "E-6001", koodriveUserId: LEAVER });
    event.data.effectiveAt = effectiveAt;
    const res = await sendHr(event);
    const { runId } = (await res.json()) as { runId: string };
    await new Promise((r) => setTimeout(r, 1000));
    const waiting = (await (await admin(`/runs/${runId}`)).json()) as { status: string; detail: string };
    expect(waiting.status).toBe("running");
    expect(waiting.detail).toContain("waiting until");
    expect((await sim.calls(0)).calls.filter((c) => c.endpoint === "cancel")).toHaveLength(0);

    const run = await waitForRun(runId, 30_000);
    expect(run.status).toBe("completed");
    const cancels = (await sim.calls(0)).calls.filter((c) => c.endpoint === "cancel");
    expect(cancels.length).toBeGreaterThan(0);
    expect(Math.min(...cancels.map((c) => c.at))).toBeGreaterThanOrEqual(Date.parse(effectiveAt));
  });
});

describe("identities that are long or unusual", () => {
  it("offboards and audits a leaver with a 200-character non-ASCII HR id (KV keys stay under 512 bytes)", async () => {
    await sim.seed({ users: [{ userId: LEAVER, name: "Ünï Cödé", shares: 2 }], seed: 42 });
    const hrId = `É/${"汉字 ".repeat(66)}`.slice(0, 200);
    const res = await sendHr(
      offboardedEvent({ id: hrId, email: "long@example.com", koodriveUserId: LEAVER }),
    );
    expect(res.status).toBe(202);
    const run = await waitForRun(((await res.json()) as { runId: string }).runId);
    expect(run.status).toBe("completed");
    const audit = (await (await admin(`/audit?user=${encodeURIComponent(hrId)}&limit=50`)).json()) as {
      records: Array<{ type: string }>;
    };
    expect(audit.records.some((r) => r.type === "shares.cancelled")).toBe(true);
  });
});

describe("GET /audit pagination", () => {
  it("pages newest first without repeating or skipping records, even when new ones arrive in between", async () => {
    const store = new AuditStore(env.AUDIT);
    const subject = { hrId: `E-page-${Date.now()}` };
    const base = Date.now() - 60_000;
    for (let i = 0; i < 25; i++) {
      await store.write({
        type: "admin.holds",
        actor: "admin",
        subject,
        reason: `r${i}`,
        at: new Date(base + i * 1000).toISOString(),
      });
    }
    const seen: string[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 5; page++) {
      const res = await admin(`/audit?user=hr:${subject.hrId}&limit=10${cursor ? `&cursor=${cursor}` : ""}`);
      const body = (await res.json()) as {
        records: Array<{ reason: string; at: string }>;
        nextCursor?: string;
      };
      seen.push(...body.records.map((r) => r.reason));
      if (page === 0) await store.write({ type: "admin.holds", actor: "admin", subject, reason: "newer" });
      cursor = body.nextCursor;
      if (!cursor) break;
    }
    expect(seen).toEqual(Array.from({ length: 25 }, (_, i) => `r${24 - i}`));
  });

  it("never answers 5xx to a well-formed cursor that KV does not know", async () => {
    const fake = btoa(JSON.stringify({ c: "not-a-kv-cursor", k: "audit:" })).replaceAll("=", "");
    const res = await admin(`/audit?cursor=${fake}`);
    // Local KV ignores an unknown cursor (200); Cloudflare's rejects it, which we answer with 400.
    expect([200, 400]).toContain(res.status);
  });
});

/** A client whose every call is answered by `answer` (no simulator), with backoff not waited for. */
function stubbedClient(answer: () => Promise<Response>) {
  return new KooDriveClient({
    baseUrl: "https://intl.myhuaweicloud-koodrive.com",
    appId: "a",
    appSecret: "s",
    sleep: async () => {},
    fetch: answer,
  });
}

describe("KooDrive's own transient error", () => {
  it("retries a top-level 13000201 even when it comes as HTTP 400", async () => {
    let calls = 0;
    const client = stubbedClient(async () => {
      calls++;
      return calls === 1
        ? Response.json({ code: "13000201", msg: "inner server invoke failure" }, { status: 400 })
        : Response.json({ code: 0, msg: "ok", shareLinks: [] });
    });
    expect(await listAllShares(client, "1505084218764549800")).toEqual([]);
    expect(calls).toBe(2);
  });

  it("does not retry a parameter error", async () => {
    let calls = 0;
    const client = stubbedClient(async () => {
      calls++;
      return Response.json({ code: 13000102, msg: "parameter invalid" }, { status: 400 });
    });
    await expect(listAllShares(client, "1505084218764549800")).rejects.toBeInstanceOf(KooDriveError);
    expect(calls).toBe(1);
  });
});
