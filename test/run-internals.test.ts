import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { KooDriveClient, SharePage } from "../src/koodrive/client";
import type { ShareLink } from "../src/koodrive/schema";
import type { Lookahead } from "../src/offboarding/context";
import { MAX_JSON_BATCH_BYTES } from "../src/offboarding/json-batches";
import { listPages, PAGES_PER_STEP } from "../src/offboarding/paging";
import type { PlannedShare, RunRequest } from "../src/offboarding/types";
import { uniqueId } from "./helpers/worker";

/** A KooDrive that serves `pages` pages from cursors "0", "c1", "c2", ... and counts each fetch. */
function pagedClient(pages: number) {
  const fetched: string[] = [];
  const client = {
    async listSharePage(_userId: string, cursor: string): Promise<SharePage> {
      fetched.push(cursor);
      const n = cursor === "0" ? 0 : Number(cursor.slice(1));
      const shareLinks = [{ shareId: `s${n}` }] as unknown as ShareLink[];
      return { shareLinks, nextCursor: n + 1 < pages ? `c${n + 1}` : undefined };
    },
  } as unknown as KooDriveClient;
  return { client, fetched };
}

describe("listPages: one step's pages, and the next step's first page fetched ahead", () => {
  it("fetches every page exactly once across steps", async () => {
    const pages = PAGES_PER_STEP * 2 + 5;
    const { client, fetched } = pagedClient(pages);
    const ctx = { client, userId: "1505084218764549300", lookahead: {} as Lookahead };
    const seen: string[] = [];
    let cursor: string | undefined = "0";
    let steps = 0;
    while (cursor !== undefined) {
      cursor = await listPages(ctx, cursor, async (links) => {
        seen.push(...links.map((l) => l.shareId));
      });
      steps++;
    }
    expect(steps).toBe(3);
    expect(seen).toEqual(Array.from({ length: pages }, (_, i) => `s${i}`));
    // No cursor fetched twice, nothing fetched beyond the end, and no page left waiting.
    expect(fetched).toHaveLength(pages);
    expect(new Set(fetched).size).toBe(pages);
    expect(ctx.lookahead.next).toBeUndefined();
  });

  it("leaves the next step's first page in flight when a step ends mid-listing", async () => {
    const { client, fetched } = pagedClient(PAGES_PER_STEP + 3);
    const ctx = { client, userId: "1505084218764549300", lookahead: {} as Lookahead };
    const next = await listPages(ctx, "0", async () => {});
    expect(next).toBe(`c${PAGES_PER_STEP}`);
    expect(ctx.lookahead.next?.cursor).toBe(next);
    expect(fetched.at(-1)).toBe(next);
  });

  it("ignores a page fetched ahead for another cursor (a retried step starts afresh)", async () => {
    const { client, fetched } = pagedClient(3);
    const stale = { shareLinks: [{ shareId: "stale" }] as unknown as ShareLink[], nextCursor: "c2" };
    const ctx = {
      client,
      userId: "1505084218764549300",
      lookahead: { next: { cursor: "c9", page: Promise.resolve(stale), at: Date.now() } } as Lookahead,
    };
    const seen: string[] = [];
    await listPages(ctx, "0", async (links) => {
      seen.push(...links.map((l) => l.shareId));
    });
    expect(seen).toEqual(["s0", "s1", "s2"]);
    expect(fetched).toEqual(["0", "c1", "c2"]);
    expect(ctx.lookahead.next).toBeUndefined();
  });

  it("does not hand a step a page fetched ahead too long ago", async () => {
    const { client, fetched } = pagedClient(2);
    const old = { shareLinks: [{ shareId: "old" }] as unknown as ShareLink[], nextCursor: undefined };
    const ctx = {
      client,
      userId: "1505084218764549300",
      lookahead: { next: { cursor: "c1", page: Promise.resolve(old), at: Date.now() - 60_000 } } as Lookahead,
    };
    const seen: string[] = [];
    await listPages(ctx, "c1", async (links) => {
      seen.push(...links.map((l) => l.shareId));
    });
    expect(seen).toEqual(["s1"]);
    expect(fetched).toEqual(["c1"]);
  });
});

function planned(id: string, state: PlannedShare["state"] = "planned"): PlannedShare {
  return {
    shareId: id,
    scope: 0,
    displayName: `doc ${id}`,
    linkUrl: `https://koodrive.example/l/${id}`,
    shortUrl: `https://k.example/${id}`,
    expireTime: "",
    shareStatus: 0,
    state,
    reason: state === "planned" ? "" : "on hold",
  };
}

async function ledger() {
  const stub = env.RUNS.getByName(`internals-${uniqueId()}`);
  const request: RunRequest = {
    runId: "r",
    source: "hr",
    eventId: "E-1",
    subject: { hrId: "E-1" },
    dryRun: false,
    scopes: [],
    requestId: "q",
    receivedAt: new Date().toISOString(),
    actor: "test",
  };
  await stub.accept(request);
  return stub;
}

describe("RunLedger: one statement per batch, same answers as one per share", () => {
  it("adds a page once: a replayed page adds nothing, skipped shares go straight to the audit outbox", async () => {
    const l = await ledger();
    const page = [planned("1"), planned("2"), planned("3", "skipped_hold")];
    expect((await l.addPlanned(page)).sort()).toEqual(["1", "2", "3"]);
    expect(await l.addPlanned([...page, planned("4")])).toEqual(["4"]);
    expect((await l.counts()).planned).toBe(3);
    expect((await l.unaudited(10)).map((r) => r.shareId)).toEqual(["3"]);
    const [row] = await l.shares("", 1);
    expect(row).toMatchObject({ shareId: "1", displayName: "doc 1", scope: 0, state: "planned" });
  });

  it("records outcomes per share (the last one given for a share wins) and queues them for the audit", async () => {
    const l = await ledger();
    await l.addPlanned([planned("1"), planned("2"), planned("3")]);
    await l.markInFlight(["1", "2"]);
    expect((await l.pending(10)).map((p) => [p.shareId, p.state, p.attempts])).toEqual([
      ["1", "in_flight", 1],
      ["2", "in_flight", 1],
      ["3", "planned", 0],
    ]);
    await l.record([
      { shareId: "1", state: "failed", code: "13000201", msg: "inner failure" },
      { shareId: "2", state: "cancelled", code: "0", msg: "success" },
      { shareId: "1", state: "cancelled", code: "0", msg: "success" },
    ]);
    const rows = await l.shares("", 10);
    expect(rows.map((r) => [r.shareId, r.state, r.code, r.msg])).toEqual([
      ["1", "cancelled", "0", "success"],
      ["2", "cancelled", "0", "success"],
      ["3", "planned", "", ""],
    ]);
    expect((await l.unaudited(10)).map((r) => r.shareId)).toEqual(["1", "2"]);
    await l.markAudited(["1", "2"]);
    expect(await l.unaudited(10)).toEqual([]);
  });

  it("verify: a failed share no longer listed is gone (keeping KooDrive's code), a cancelled one still listed is still active", async () => {
    const l = await ledger();
    await l.addPlanned([planned("1"), planned("2"), planned("3")]);
    await l.record([
      { shareId: "1", state: "failed", code: "13000309", msg: "refused" },
      { shareId: "2", state: "cancelled", code: "0", msg: "success" },
      { shareId: "3", state: "cancelled", code: "0", msg: "success" },
    ]);
    await l.markAudited(["1", "2", "3"]);
    expect(await l.markSeen(["2", "not-ours"])).toBe(1);
    const changes = await l.finishVerify();
    expect(changes.map((c) => [c.shareId, c.state]).sort()).toEqual([
      ["1", "already_gone"],
      ["2", "still_active"],
    ]);
    const rows = await l.shares("", 10);
    expect(rows.map((r) => [r.shareId, r.state, r.code])).toEqual([
      ["1", "already_gone", "13000309"],
      ["2", "still_active", "0"],
      ["3", "cancelled", "0"],
    ]);
    expect((await l.unaudited(10)).map((r) => r.shareId)).toEqual(["1", "2"]);
  });
});

describe("RunLedger: batches stay under Durable Object SQLite's 2 MB value limit", () => {
  it("a verify that changes 12,000 shares (over 1 MB of changes) records every one", async () => {
    const l = await ledger();
    const ids = Array.from({ length: 12_000 }, (_, i) => String(1_700_000_000_000_000_000n + BigInt(i)));
    await l.addPlanned(ids.map((id) => planned(id)));
    await l.record(
      ids.map((shareId) => ({ shareId, state: "cancelled" as const, code: "0", msg: "success" })),
    );
    await l.markAudited(ids);
    expect(await l.markSeen(ids)).toBe(ids.length);
    const changes = await l.finishVerify();
    expect(JSON.stringify(changes).length).toBeGreaterThan(MAX_JSON_BATCH_BYTES);
    expect((await l.counts()).still_active).toBe(ids.length);
    expect(await l.unaudited(20_000)).toHaveLength(ids.length);
  });
});
