import { beforeEach, describe, expect, it } from "vitest";
import { KooDriveClient, KooDriveError } from "../src/koodrive/client";
import {
  cancelShares,
  exitShares,
  getShare,
  listAllShares,
  listReceivedPages,
  listSharePages,
  updateUserStatus,
} from "./helpers/koodrive";
import { KOODRIVE_BASE, SIM, sim } from "./helpers/sim";

const LEAVER = "1505084218764549001";

function client(opts: { sleeps?: number[]; maxAttempts?: number; traceId?: string } = {}) {
  return new KooDriveClient({
    baseUrl: KOODRIVE_BASE,
    appId: SIM.appId,
    appSecret: SIM.appSecret,
    // Backoff is recorded, not waited for: the test proves the schedule without slowing down.
    sleep: async (ms) => {
      opts.sleeps?.push(ms);
    },
    random: () => 0.5,
    ...(opts.maxAttempts ? { maxAttempts: opts.maxAttempts } : {}),
    ...(opts.traceId ? { traceId: opts.traceId } : {}),
  });
}

async function seedLeaver(shares: number): Promise<string[]> {
  const { users } = await sim.seed({ users: [{ userId: LEAVER, name: "Lee Leaver", shares }], seed: 7 });
  return users[0]?.shareIds ?? [];
}

beforeEach(async () => {
  await sim.reset();
});

describe("KooDrive client: listing", () => {
  it("lists every share through short and empty pages, stopping only when nextCursor is absent", async () => {
    const ids = await seedLeaver(450);
    await sim.quirks({ shortPages: true, emptyPages: true, codeAsString: "alternate" });
    const pages = [];
    for await (const page of listSharePages(client(), LEAVER)) pages.push(page);
    const listed = pages.flatMap((p) => p.shareLinks.map((s) => s.shareId));
    expect(listed).toHaveLength(450);
    expect(new Set(listed)).toEqual(new Set(ids));
    expect(pages.some((p) => p.shareLinks.length === 0 && p.nextCursor !== undefined)).toBe(true);
    expect(
      pages.some((p) => p.shareLinks.length > 0 && p.shareLinks.length < 100 && p.nextCursor !== undefined),
    ).toBe(true);
    expect(pages.at(-1)?.nextCursor).toBeUndefined();
  });

  it("sends a 58-character X-Traceid and the simulator accepts it", async () => {
    await seedLeaver(3);
    const shares = await listAllShares(client({ traceId: "t".repeat(58) }), LEAVER);
    expect(shares).toHaveLength(3);
  });
});

describe("KooDrive client: cancelling", () => {
  it("chunks 250 ids into 3 calls of at most 100", async () => {
    const ids = await seedLeaver(250);
    const { last } = await sim.calls(0);
    const outcomes = await cancelShares(client(), LEAVER, ids, 2);
    expect(outcomes).toHaveLength(250);
    expect(outcomes.every((o) => o.ok)).toBe(true);
    const cancels = (await sim.calls(last)).calls.filter((c) => c.endpoint === "cancel");
    expect(cancels.map((c) => c.ids).sort((a, b) => a - b)).toEqual([50, 100, 100]);
    expect((await sim.summary(LEAVER)).active).toBe(0);
  });

  it("reports partial failures per share and never assumes the batch succeeded", async () => {
    const ids = await seedLeaver(10);
    const failing = ids.slice(0, 3);
    await sim.faults({ rules: [{ endpoint: "cancel", kind: "shareFailure", shareIds: failing, rate: 1 }] });
    const outcomes = await cancelShares(client(), LEAVER, ids);
    const failed = outcomes.filter((o) => !o.ok);
    expect(failed.map((o) => o.shareId).sort()).toEqual([...failing].sort());
    expect(failed.every((o) => o.code === "13000201")).toBe(true);
    const active = await sim.shares(LEAVER, "active");
    expect(active.map((s) => s.shareId).sort()).toEqual([...failing].sort());
  });

  it("reports a share that is not the caller's as not found", async () => {
    const ids = await seedLeaver(2);
    const outcomes = await cancelShares(client(), LEAVER, [ids[0] as string, "1999999999999999999"]);
    expect(outcomes[0]).toMatchObject({ ok: true });
    expect(outcomes[1]).toMatchObject({ ok: false, code: "13000309" });
  });
});

describe("KooDrive client: resilience", () => {
  it("retries through injected 429s (honouring Retry-After) and 5xx", async () => {
    await seedLeaver(5);
    await sim.faults({
      rules: [
        { endpoint: "list", kind: "http429", next: 1, retryAfter: 2 },
        { endpoint: "list", kind: "http5xx", next: 1, status: 502 },
      ],
    });
    const sleeps: number[] = [];
    const shares = await listAllShares(client({ sleeps }), LEAVER);
    expect(shares).toHaveLength(5);
    expect(sleeps).toHaveLength(2);
    expect(sleeps[0]).toBeGreaterThanOrEqual(2000);
    const statuses = (await sim.calls(0)).calls.filter((c) => c.endpoint === "list").map((c) => c.status);
    expect(statuses.slice(0, 3).sort()).toEqual([200, 429, 502]);
  });

  it("gives up cleanly after the bound, saying which call, which user and what KooDrive answered", async () => {
    await seedLeaver(5);
    await sim.faults({ rules: [{ endpoint: "list", kind: "http5xx", rate: 1, status: 503 }] });
    const sleeps: number[] = [];
    const err = await listAllShares(client({ sleeps, maxAttempts: 3 }), LEAVER).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KooDriveError);
    const e = err as KooDriveError;
    expect(e).toMatchObject({
      call: "share.list",
      userId: LEAVER,
      httpStatus: 503,
      retryable: true,
      attempts: 3,
    });
    expect(e.message).toContain("share.list");
    expect(e.message).toContain(LEAVER);
    expect(sleeps).toHaveLength(2);
    expect((await sim.calls(0)).calls.filter((c) => c.endpoint === "list")).toHaveLength(3);
  });

  it("does not retry other 4xx (an unknown user)", async () => {
    const sleeps: number[] = [];
    const err = (await listAllShares(client({ sleeps }), "1505084218764599999").catch(
      (e: unknown) => e,
    )) as KooDriveError;
    expect(err).toBeInstanceOf(KooDriveError);
    expect(err).toMatchObject({ httpStatus: 400, code: "13000309", retryable: false, attempts: 1 });
    expect(sleeps).toHaveLength(0);
  });

  it("fails with 401 and no retry when the app secret is wrong", async () => {
    await seedLeaver(1);
    const bad = new KooDriveClient({
      baseUrl: KOODRIVE_BASE,
      appId: SIM.appId,
      appSecret: "wrong",
      sleep: async () => {},
    });
    const err = (await listAllShares(bad, LEAVER).catch((e: unknown) => e)) as KooDriveError;
    expect(err).toMatchObject({ httpStatus: 401, retryable: false });
  });
});

describe("KooDrive client: the other typed calls", () => {
  const DANA = "1505084218764547201";
  const ADMIN = "1505084218764547200";

  it("gets a share's detail with its recipients", async () => {
    await sim.seed({ demo: true });
    const scope3 = (await sim.shares(DANA, "active")).find((s) => s.scope === 3);
    const detail = await getShare(client(), DANA, scope3?.shareId ?? "");
    expect(detail.shareId).toBe(scope3?.shareId);
    expect((detail.users?.length ?? 0) + (detail.groups?.length ?? 0)).toBeGreaterThan(0);
  });

  it("lists, finds and gets users, and disables one", async () => {
    await sim.seed({ demo: true });
    const page = await client().listUsers(ADMIN, { offset: 0, limit: 2 });
    expect(page.total).toBe(5);
    expect(page.list).toHaveLength(2);
    const found = await client().findUsersByName(ADMIN, "dana");
    expect(found.map((u) => u.userId)).toEqual([DANA]);
    await updateUserStatus(client(), ADMIN, DANA, 1);
    expect((await client().getUser(ADMIN, DANA)).status).toBe(1);
  });

  it("lists shares received and exits them", async () => {
    await sim.seed({ demo: true });
    const received = [];
    for await (const page of listReceivedPages(client(), DANA)) received.push(...page);
    expect(received.length).toBeGreaterThan(0);
    expect(received[0]?.ownerId).toEqual(expect.any(String));
    const outcomes = await exitShares(
      client(),
      DANA,
      received.map((s) => s.shareId),
    );
    expect(outcomes.every((o) => o.ok)).toBe(true);
    const after = [];
    for await (const page of listReceivedPages(client(), DANA)) after.push(...page);
    expect(after).toHaveLength(0);
  });

  it("times out a slow call and retries it", async () => {
    await seedLeaver(2);
    await sim.faults({ rules: [{ endpoint: "list", kind: "latency", ms: 400, next: 1 }] });
    const slow = new KooDriveClient({
      baseUrl: KOODRIVE_BASE,
      appId: SIM.appId,
      appSecret: SIM.appSecret,
      timeoutMs: 100,
      sleep: async () => {},
    });
    expect(await listAllShares(slow, LEAVER)).toHaveLength(2);
  });

  it("refuses more than 100 ids in one cancel call before sending anything", async () => {
    await seedLeaver(1);
    const ids = Array.from({ length: 101 }, (_, i) => String(1600000000000000000 + i));
    await expect(client().cancelBatch(LEAVER, ids)).rejects.toThrow(RangeError);
    expect((await sim.calls(0)).calls.filter((c) => c.endpoint === "cancel")).toHaveLength(0);
  });
});
