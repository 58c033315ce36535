/**
 * The KooDrive simulator behaves as /work/shared/koodrive-api.md says: it rejects what KooDrive rejects,
 * pages with the documented quirks without losing items, and injects faults without side effects.
 */
import { beforeEach, describe, expect, it } from "vitest";
import { verifyAppAuth } from "../simulator/src/auth";
import { DEMO, KOODRIVE_BASE, listAllPages, SIM, signedFetch, sim } from "./helpers/sim";

const MINUTE = 60_000;

interface Envelope {
  code: number | string;
  msg: string;
  [key: string]: unknown;
}

async function call(res: Response): Promise<{ status: number; body: Envelope }> {
  return { status: res.status, body: (await res.json()) as Envelope };
}

const list = (userId: string, query: Record<string, string | number> = {}) =>
  signedFetch({ path: "/share", userId, query }).then(call);

const cancel = (userId: string, shareIds: unknown) =>
  signedFetch({ method: "POST", path: "/share/cancel", userId, body: { shareIds } }).then(call);

beforeEach(async () => {
  await sim.reset();
  await sim.seed({ demo: true });
});

describe("the simulator's verifier and the doc's worked examples", () => {
  // Known answers from koodrive-api.md "Authentication": the simulator must accept exactly these.
  const KAT = {
    appId: "8d3c0f6a5b2e4c1d9a7f3e6b0c2d4a6f8e1b3c5d7f9a0b2c4d6e8f1a3b5c7d9e",
    appSecret: "example-app-secret-do-not-use",
  };
  const authFor = (signature: string) =>
    `HMAC-SHA256 AppId=${KAT.appId},SignedHeaders=host;x-date;x-user-id,Signature=${signature}`;
  const verify = (request: Request, body: string, now: string) =>
    verifyAppAuth({ request, body: new TextEncoder().encode(body), ...KAT, now: new Date(now) });

  it("accepts the GET example and rejects it with one field changed", async () => {
    const make = (url: string, date = "20261122T101500Z") =>
      new Request(url, {
        headers: {
          authorization: authFor("031fef8ade2a3751f2474ac547874ed249f500a128ce3d96540b8b6ba996b78d"),
          "x-date": date,
          "x-user-id": "1505084218764547200",
        },
      });
    const url = `${KOODRIVE_BASE}/koodrive/ose/v1/share?pageSize=100&pageCursor=0`;
    expect(await verify(make(url), "", "2026-11-22T10:20:00Z")).toEqual({
      ok: true,
      userId: "1505084218764547200",
    });
    expect((await verify(make(url.replace("100", "99")), "", "2026-11-22T10:20:00Z")).ok).toBe(false);
    expect((await verify(make(url, "20261122T101501Z"), "", "2026-11-22T10:20:00Z")).ok).toBe(false);
    expect((await verify(make(url), "", "2026-11-22T10:30:01Z")).ok).toBe(false);
  });

  it("accepts the POST example over its exact body bytes only", async () => {
    const body = '{"shareIds":["1689759841444195840","1689759841444195841"]}';
    const make = (sent: string) =>
      new Request(`${KOODRIVE_BASE}/koodrive/ose/v1/share/cancel`, {
        method: "POST",
        body: sent,
        headers: {
          authorization: authFor("680e8f54a0110af845d31e2910cbf97daceb2f5c03ef4f90c98dff15a5dd2490"),
          "x-date": "20261122T101501Z",
          "x-user-id": "1505084218764547200",
        },
      });
    expect((await verify(make(body), body, "2026-11-22T10:15:02Z")).ok).toBe(true);
    const spaced = body.replace(",", ", ");
    expect((await verify(make(spaced), spaced, "2026-11-22T10:15:02Z")).ok).toBe(false);
  });
});

describe("app authentication", () => {
  it("accepts a correctly signed list call", async () => {
    const { status, body } = await list(DEMO.leaver, { pageSize: 100, pageCursor: 0 });
    expect(status).toBe(200);
    expect(Number(body.code)).toBe(0);
    expect(Array.isArray(body.shareLinks)).toBe(true);
  });

  it("rejects a signature made with the wrong secret", async () => {
    const { status, body } = await signedFetch({
      path: "/share",
      userId: DEMO.leaver,
      appSecret: "rotated-out",
    }).then(call);
    expect(status).toBe(401);
    expect(body.code).toBe("APIGW.0301");
    const [last] = (await sim.calls()).calls.slice(-1);
    expect(last).toMatchObject({ endpoint: "list", status: 401 });
  });

  it("rejects an unknown AppId", async () => {
    const { status } = await signedFetch({ path: "/share", userId: DEMO.leaver, appId: "someone-else" }).then(
      call,
    );
    expect(status).toBe(401);
  });

  it("rejects a tampered body, and cancels nothing", async () => {
    const [target] = await sim.shares(DEMO.leaver, "active");
    const res = await signedFetch({
      method: "POST",
      path: "/share/cancel",
      userId: DEMO.leaver,
      body: { shareIds: [target?.shareId] },
      signBody: JSON.stringify({ shareIds: ["1689759841444195999"] }),
    });
    expect(res.status).toBe(401);
    expect((await sim.summary(DEMO.leaver)).cancelled).toBe(0);
  });

  it("rejects a signature made for another host", async () => {
    const res = await signedFetch({
      path: "/share",
      userId: DEMO.leaver,
      signUrl: "https://cn.myhuaweicloud-koodrive.com/koodrive/ose/v1/share",
    });
    expect(res.status).toBe(401);
  });

  it("rejects a signature made for another query", async () => {
    const res = await signedFetch({
      path: "/share",
      userId: DEMO.leaver,
      query: { pageSize: 10 },
      signUrl: `${KOODRIVE_BASE}/koodrive/ose/v1/share?pageSize=100`,
    });
    expect(res.status).toBe(401);
  });

  it("rejects an X-Date 16 minutes old", async () => {
    const { status, body } = await signedFetch({
      path: "/share",
      userId: DEMO.leaver,
      date: new Date(Date.now() - 16 * MINUTE),
    }).then(call);
    expect(status).toBe(401);
    expect(body.msg).toMatch(/15 minutes/);
  });

  it("accepts an X-Date 14 minutes old", async () => {
    const res = await signedFetch({
      path: "/share",
      userId: DEMO.leaver,
      date: new Date(Date.now() - 14 * MINUTE),
    });
    expect(res.status).toBe(200);
  });

  it("rejects an X-Date in the future", async () => {
    const { status, body } = await signedFetch({
      path: "/share",
      userId: DEMO.leaver,
      date: new Date(Date.now() + 2 * MINUTE),
    }).then(call);
    expect(status).toBe(401);
    expect(body.msg).toMatch(/future/);
  });

  it("rejects a malformed Authorization header", async () => {
    for (const authorization of [
      "Bearer abc",
      `HMAC-SHA256 AppId=${SIM.appId}, SignedHeaders=host;x-date;x-user-id, Signature=${"a".repeat(64)}`,
      `HMAC-SHA256 AppId=${SIM.appId},SignedHeaders=host;x-date;x-user-id,Signature=${"a".repeat(63)}`,
    ]) {
      const { status, body } = await signedFetch({ path: "/share", userId: DEMO.leaver, authorization }).then(
        call,
      );
      expect(status).toBe(401);
      expect(body.code).toBe("APIGW.0301");
    }
  });

  it("rejects SignedHeaders without x-user-id", async () => {
    const res = await signedFetch({ path: "/share", userId: DEMO.leaver, signedHeaders: ["host", "x-date"] });
    expect(res.status).toBe(401);
  });

  it("rejects an unsigned call even while faults are set", async () => {
    await sim.faults({ rules: [{ kind: "http429", next: 5 }] });
    const res = await fetch(`${KOODRIVE_BASE}/koodrive/ose/v1/share`, {
      headers: { "x-user-id": DEMO.leaver },
    });
    expect(res.status).toBe(401);
  });

  it("rejects a 57-character X-Traceid and accepts a 58-character one", async () => {
    const short = await signedFetch({ path: "/share", userId: DEMO.leaver, traceId: "t".repeat(57) }).then(
      call,
    );
    expect(short.status).toBe(400);
    expect(Number(short.body.code)).toBe(13000102);
    const exact = await signedFetch({ path: "/share", userId: DEMO.leaver, traceId: "t".repeat(58) });
    expect(exact.status).toBe(200);
  });

  it("rejects an X-User-Id that is not 19 digits, and an unknown user", async () => {
    const bad = await list("12345");
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe(13000102);
    const unknown = await list("1999999999999999999");
    expect(unknown.status).toBe(400);
    expect(unknown.body.code).toBe(13000309);
    expect(unknown.body.msg).toBe("user does not exist");
  });

  it("answers 404 for an unknown route", async () => {
    const res = await signedFetch({ path: "/nothing/here", userId: DEMO.leaver });
    expect(res.status).toBe(404);
  });
});

describe("listing shares", () => {
  it("lists only the caller's active shares", async () => {
    await sim.quirks({ shortPages: false, emptyPages: false });
    const { body } = await list(DEMO.leaver);
    const links = body.shareLinks as { shareId: string; scope: number; shareTime: number }[];
    expect(links).toHaveLength(36);
    expect(new Set(links.map((l) => l.scope))).toEqual(new Set([1, 2, 3]));
    expect(body.nextCursor).toBeUndefined();
    const times = links.map((l) => l.shareTime);
    expect(times).toEqual([...times].sort((a, b) => b - a));
  });

  it("rejects pageSize 101 and a cursor it never issued", async () => {
    expect((await list(DEMO.leaver, { pageSize: 101 })).body.code).toBe(13000102);
    expect((await list(DEMO.leaver, { pageSize: 0 })).status).toBe(400);
    const forged = await list(DEMO.leaver, { pageCursor: "not-a-cursor" });
    expect(forged.status).toBe(400);
    expect(forged.body.code).toBe(13000102);
  });

  it("returns every active share exactly once across short and empty pages", async () => {
    const [user] = (await sim.seed({ users: [{ name: "Big Sharer", shares: 250 }], seed: 7 })).users;
    const pages = await listAllPages(user?.userId ?? "", 20);
    const ids = pages.flatMap((p) => p.shareLinks.map((l) => l.shareId));
    expect(ids).toHaveLength(250);
    expect(new Set(ids).size).toBe(250);
    expect(new Set(ids)).toEqual(new Set(user?.shareIds));
    const beforeEnd = pages.slice(0, -1);
    expect(beforeEnd.some((p) => p.shareLinks.length === 0)).toBe(true);
    expect(beforeEnd.some((p) => p.shareLinks.length > 0 && p.shareLinks.length < 20)).toBe(true);
  });

  it("pages ascending with sortDirection 1 and filters by displayName", async () => {
    await sim.quirks({ shortPages: false, emptyPages: false });
    const asc = await list(DEMO.seller, { sortDirection: 1 });
    const times = (asc.body.shareLinks as { shareTime: number }[]).map((l) => l.shareTime);
    expect(times).toEqual([...times].sort((a, b) => a - b));
    const filtered = await list(DEMO.seller, { displayName: "PRICE" });
    expect((filtered.body.shareLinks as { displayName: string }[]).map((l) => l.displayName)).toEqual([
      "Price list.pdf",
    ]);
  });

  it("sends code 0 as a number and as a string on alternate successes", async () => {
    const codes = [];
    for (let i = 0; i < 4; i++) codes.push((await list(DEMO.leaver)).body.code);
    expect(codes).toEqual([0, "0", 0, "0"]);
    await sim.quirks({ codeAsString: "never" });
    expect((await list(DEMO.leaver)).body.code).toBe(0);
  });

  it("lists shares received by the caller, with their owner", async () => {
    const res = await signedFetch({ path: "/share/received", userId: DEMO.leaver }).then(call);
    const links = res.body.shareLinks as { ownerId: string; ownerName: string }[];
    expect(links.length).toBeGreaterThan(0);
    expect(links.some((l) => l.ownerId === DEMO.seller && l.ownerName === "Sam Seller")).toBe(true);
  });

  it("shows a share's recipients in its detail, to its owner only", async () => {
    const [share] = (await sim.shares(DEMO.leaver, "active")).filter((s) => s.scope === 3);
    const detail = await signedFetch({ path: `/share/${share?.shareId}`, userId: DEMO.leaver }).then(call);
    expect(detail.status).toBe(200);
    expect((detail.body.shareLink as { users: unknown[] }).users.length).toBeGreaterThan(0);
    const foreign = await signedFetch({ path: `/share/${share?.shareId}`, userId: DEMO.admin }).then(call);
    expect(foreign.status).toBe(400);
    expect(foreign.body.code).toBe(13000309);
  });
});

describe("cancelling shares", () => {
  it("cancels the caller's shares once and reports later attempts as not found", async () => {
    const ids = (await sim.shares(DEMO.leaver, "active")).slice(0, 3).map((s) => s.shareId);
    const first = await cancel(DEMO.leaver, ids);
    expect(first.status).toBe(200);
    expect(first.body.subResponseList).toEqual(ids.map((shareId) => ({ shareId, code: 0, msg: "success" })));
    const again = await cancel(DEMO.leaver, ids.slice(0, 1));
    expect((again.body.subResponseList as { code: number }[])[0]?.code).toBe(13000309);
    expect(await sim.summary(DEMO.leaver)).toEqual({
      active: 33,
      cancelled: 3,
      doubleCancelAttempts: 1,
      maxCancelSuccesses: 1,
    });
  });

  it("answers a call mixing ids in order: an id repeated in the call is cancelled once, then not found", async () => {
    const [a, b] = (await sim.shares(DEMO.leaver, "active")).map((s) => s.shareId);
    const [theirs] = (await sim.shares(DEMO.seller, "active")).map((s) => s.shareId);
    const ids = [a, theirs, a, "1999999999999999999", b, "not-an-id"];
    const res = await cancel(DEMO.leaver, ids);
    expect((res.body.subResponseList as { shareId: string; code: number }[]).map((s) => s.code)).toEqual([
      0, 13000309, 13000309, 13000309, 0, 13000309,
    ]);
    expect(await sim.summary(DEMO.leaver)).toEqual({
      active: 34,
      cancelled: 2,
      doubleCancelAttempts: 1,
      maxCancelSuccesses: 1,
    });
    const theirShare = (await sim.shares(DEMO.seller, "all")).find((s) => s.shareId === theirs);
    expect(theirShare).toMatchObject({ cancelRequests: 1, cancelSuccesses: 0 });
    expect((await sim.summary(DEMO.seller)).cancelled).toBe(0);
  });

  it("does not cancel another user's share", async () => {
    const [theirs] = await sim.shares(DEMO.seller, "active");
    const res = await cancel(DEMO.leaver, [theirs?.shareId]);
    expect((res.body.subResponseList as { code: number }[])[0]?.code).toBe(13000309);
    expect((await sim.summary(DEMO.seller)).cancelled).toBe(0);
  });

  it("rejects 101 ids, an empty list and invalid JSON, and leaves every share active", async () => {
    const ids = Array.from({ length: 101 }, (_, i) => String(1689759841444195840n + BigInt(i)));
    const tooMany = await cancel(DEMO.leaver, ids);
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.code).toBe(13000102);
    expect((await cancel(DEMO.leaver, [])).body.code).toBe(13000102);
    const notJson = await signedFetch({
      method: "POST",
      path: "/share/cancel",
      userId: DEMO.leaver,
      body: "{oops",
    });
    expect(((await notJson.json()) as Envelope).code).toBe(13000101);
    expect(await sim.summary(DEMO.leaver)).toMatchObject({ active: 36, cancelled: 0 });
  });

  it("partly fails a batch under a shareFailure rule; the failed shares stay active", async () => {
    const ids = (await sim.shares(DEMO.leaver, "active")).slice(0, 10).map((s) => s.shareId);
    await sim.faults({
      seed: 42,
      rules: [{ endpoint: "cancel", kind: "shareFailure", shareIds: ids.slice(0, 2), rate: 1 }],
    });
    const res = await cancel(DEMO.leaver, ids);
    expect(res.status).toBe(200);
    expect(Number(res.body.code)).toBe(0);
    const sub = res.body.subResponseList as { shareId: string; code: number }[];
    expect(sub.map((s) => s.code)).toEqual([13000201, 13000201, 0, 0, 0, 0, 0, 0, 0, 0]);
    const active = new Set((await sim.shares(DEMO.leaver, "active")).map((s) => s.shareId));
    expect(active.has(ids[0] ?? "")).toBe(true);
    expect(active.has(ids[1] ?? "")).toBe(true);
    expect(active.has(ids[2] ?? "")).toBe(false);
  });

  it("fails the next N share attempts, then recovers", async () => {
    const ids = (await sim.shares(DEMO.leaver, "active")).slice(0, 5).map((s) => s.shareId);
    await sim.faults({ rules: [{ kind: "shareFailure", next: 3 }] });
    const first = await cancel(DEMO.leaver, ids);
    expect((first.body.subResponseList as { code: number }[]).map((s) => s.code)).toEqual([
      13000201, 13000201, 13000201, 0, 0,
    ]);
    const retry = await cancel(DEMO.leaver, ids.slice(0, 3));
    expect((retry.body.subResponseList as { code: number }[]).every((s) => s.code === 0)).toBe(true);
    expect((await sim.summary(DEMO.leaver)).cancelled).toBe(5);
  });
});

describe("call-level faults", () => {
  it("answers 429 with Retry-After for the next two calls, then recovers", async () => {
    await sim.faults({ rules: [{ endpoint: "list", kind: "http429", next: 2, retryAfter: 3 }] });
    for (let i = 0; i < 2; i++) {
      const res = await signedFetch({ path: "/share", userId: DEMO.leaver });
      expect(res.status).toBe(429);
      expect(res.headers.get("retry-after")).toBe("3");
      expect(((await res.json()) as Envelope).code).toBe("APIGW.0308");
    }
    expect((await list(DEMO.leaver)).status).toBe(200);
    const stats = await sim.stats();
    expect(stats.statuses).toMatchObject({ "429": 2, "200": 1 });
    expect(stats.endpoints.list).toBe(3);
  });

  it("answers a 5xx without side effects", async () => {
    const ids = (await sim.shares(DEMO.leaver, "active")).slice(0, 2).map((s) => s.shareId);
    await sim.faults({ rules: [{ endpoint: "cancel", kind: "http5xx", status: 502, next: 1 }] });
    const res = await signedFetch({
      method: "POST",
      path: "/share/cancel",
      userId: DEMO.leaver,
      body: { shareIds: ids },
    });
    expect(res.status).toBe(502);
    expect(await sim.summary(DEMO.leaver)).toMatchObject({ cancelled: 0 });
    const [logged] = (await sim.calls()).calls.slice(-1);
    expect(logged).toMatchObject({ endpoint: "cancel", status: 502, ids: 0, fault: "http502" });
  });

  it("adds latency to every call", async () => {
    await sim.faults({ latencyMs: 50, rules: [] });
    const started = Date.now();
    await list(DEMO.leaver);
    expect(Date.now() - started).toBeGreaterThanOrEqual(50);
  });

  it("draws the same failures from the same seed", async () => {
    const rules = [{ endpoint: "list", kind: "http5xx", rate: 0.5 }];
    const run = async () => {
      await sim.faults({ seed: 9, rules });
      const out = [];
      for (let i = 0; i < 12; i++)
        out.push((await signedFetch({ path: "/share", userId: DEMO.admin })).status);
      return out;
    };
    const first = await run();
    expect(first).toContain(503);
    expect(first).toContain(200);
    expect(await run()).toEqual(first);
  });
});

describe("received shares", () => {
  it("lets a recipient leave a share, which then drops out of their received list", async () => {
    const before = await signedFetch({ path: "/share/received", userId: DEMO.leaver }).then(call);
    const ids = (before.body.shareLinks as { shareId: string }[]).map((l) => l.shareId);
    const exit = await signedFetch({
      method: "POST",
      path: "/share/exit",
      userId: DEMO.leaver,
      body: { shareIds: ids },
    });
    const sub = ((await exit.json()) as Envelope).subResponseList as { code: number }[];
    expect(sub.every((s) => s.code === 0)).toBe(true);
    const after = await signedFetch({ path: "/share/received", userId: DEMO.leaver }).then(call);
    expect(after.body.shareLinks).toEqual([]);
    expect((await sim.summary(DEMO.seller)).active).toBe(3);
  });
});

describe("users", () => {
  it("lists users by name only, nested under data", async () => {
    const res = await signedFetch({
      path: "/userList",
      userId: DEMO.admin,
      query: { offset: 0, limit: 10, keyWord: "dana" },
    }).then(call);
    const data = res.body.data as { total: number; list: { userId: string; mobile: string }[] };
    expect(data.total).toBe(1);
    expect(data.list[0]?.userId).toBe(DEMO.leaver);
    expect(data.list[0]?.mobile).toMatch(/^\d{3}\*{4}\d{4}$/);
    const noLimit = await signedFetch({ path: "/userList", userId: DEMO.admin, query: { offset: 0 } });
    expect(noLimit.status).toBe(400);
  });

  it("disables a user, who can still be acted as", async () => {
    const put = await signedFetch({
      method: "PUT",
      path: `/users/${DEMO.leaver}`,
      userId: DEMO.admin,
      body: { status: 1 },
    });
    expect(put.status).toBe(200);
    const got = await signedFetch({ path: `/users/${DEMO.leaver}`, userId: DEMO.admin }).then(call);
    expect((got.body.data as { status: number }).status).toBe(1);
    expect((await list(DEMO.leaver)).status).toBe(200);
  });
});

describe("users: unknown ids [inferred: answered like any missing resource]", () => {
  it("answers GET and PUT /users/{id} for an id no user has with 400 13000309, changing nothing", async () => {
    const missing = "1505084218764549999";
    const got = await signedFetch({ path: `/users/${missing}`, userId: DEMO.admin }).then(call);
    expect(got.status).toBe(400);
    expect(got.body).toEqual({ code: 13000309, msg: "user does not exist" });
    const put = await signedFetch({
      method: "PUT",
      path: `/users/${missing}`,
      userId: DEMO.admin,
      body: { status: 1 },
    }).then(call);
    expect(put.status).toBe(400);
    expect(put.body.code).toBe(13000309);
    const users = await fetch("http://sim.local/__sim/users", {
      headers: { authorization: `Bearer ${SIM.adminToken}` },
    }).then((r) => r.json() as Promise<{ users: { user_id: string; status: number }[] }>);
    expect(users.users.some((u) => u.user_id === missing)).toBe(false);
    expect(users.users.every((u) => u.status === 0)).toBe(true);
  });
});

describe("seeding named shares", () => {
  /** Names a CSV export must neutralise [issue 8 finding 7]. */
  const HOSTILE = ["x;=1+1;y", '=HYPERLINK("http://evil")', "@SUM(1)", "\t=1", 'a,b"c'];

  it("seeds shares with the exact display names, scopes and states given, in order", async () => {
    const { users } = await sim.seed({
      users: [
        {
          name: "Hostile Names",
          shares: [
            { displayName: HOSTILE[0], scope: 1 },
            { displayName: HOSTILE[1], scope: 2 },
            { displayName: HOSTILE[2], scope: 3 },
            { displayName: HOSTILE[3] },
            { displayName: HOSTILE[4], scope: 1, expired: true },
          ],
        },
      ],
    });
    const [user] = users;
    expect(user?.shareCount).toBe(5);
    const byId = new Map((await sim.shares(user?.userId ?? "")).map((s) => [s.shareId, s]));
    expect(user?.shareIds?.map((id) => byId.get(id))).toEqual(
      HOSTILE.map((displayName, i) =>
        expect.objectContaining({ displayName, scope: [1, 2, 3, 1, 1][i], status: i === 4 ? 2 : 0 }),
      ),
    );
    // What KooDrive's list answers: the same names, byte for byte, as displayName and fileName.
    await sim.quirks({ shortPages: false, emptyPages: false });
    const listed = await list(user?.userId ?? "");
    const links = listed.body.shareLinks as { displayName: string; files: { fileName: string }[] }[];
    expect(links.map((l) => l.displayName).sort()).toEqual([...HOSTILE].sort());
    expect(links.every((l) => l.files[0]?.fileName === l.displayName)).toBe(true);
  });

  it("adds named shares to an existing user, next to the count form", async () => {
    const { users } = await sim.seed({
      users: [
        { userId: DEMO.seller, name: "Sam Seller", shares: [{ displayName: "@SUM(1)" }] },
        { name: "Counted", shares: 2, scopes: [2] },
      ],
    });
    expect(users.map((u) => u.shareCount)).toEqual([1, 2]);
    const seller = await sim.shares(DEMO.seller, "active");
    expect(seller).toHaveLength(4);
    expect(seller.filter((s) => s.displayName === "@SUM(1)")).toHaveLength(1);
  });

  it("refuses a malformed share list with 400 and seeds nothing", async () => {
    const seed = (shares: unknown) =>
      fetch("http://sim.local/__sim/seed", {
        method: "POST",
        headers: { authorization: `Bearer ${SIM.adminToken}` },
        body: JSON.stringify({ users: [{ name: "Bad Seed", shares }] }),
      });
    for (const shares of [
      [{ displayName: "" }],
      [{ displayName: 7 }],
      [{ displayName: "ok", scope: 4 }],
      [{ displayName: "ok", expired: "yes" }],
      ["just a name"],
      -1,
    ]) {
      const res = await seed(shares);
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: string }).error).toMatch(/^users\[0\]\.shares/);
    }
    const users = await fetch("http://sim.local/__sim/users", {
      headers: { authorization: `Bearer ${SIM.adminToken}` },
    }).then((r) => r.json() as Promise<{ users: { name: string }[] }>);
    expect(users.users.some((u) => u.name === "Bad Seed")).toBe(false);
  });
});

describe("control plane", () => {
  it("is 401 without the admin token", async () => {
    const res = await fetch("http://sim.local/__sim/reset", { method: "POST" });
    expect(res.status).toBe(401);
    const wrong = await fetch("http://sim.local/__sim/summary", {
      headers: { authorization: "Bearer nope" },
    });
    expect(wrong.status).toBe(401);
    expect((await sim.summary(DEMO.leaver)).active).toBe(36);
  });

  it("generates 10,000 shares quickly, with unique 19-digit ids", async () => {
    const started = Date.now();
    const { users } = await sim.seed({ generate: { users: 10, sharesPerUser: 1000, seed: 3 } });
    expect(Date.now() - started).toBeLessThan(5000);
    expect(users).toHaveLength(10);
    const ids = users.flatMap((u) => u.shareIds ?? []);
    expect(ids).toHaveLength(10_000);
    expect(new Set(ids).size).toBe(10_000);
    expect(ids.every((id) => /^\d{19}$/.test(id))).toBe(true);
    expect((await sim.summary(users[0]?.userId ?? "")).active).toBe(1000);
  });

  it("logs every call, rejected ones included", async () => {
    const { last } = await sim.calls();
    await signedFetch({ path: "/share", userId: DEMO.leaver, appSecret: "wrong" });
    await list(DEMO.leaver);
    const { calls } = await sim.calls(last);
    expect(calls.map((c) => c.status)).toEqual([401, 200]);
    expect(calls[1]).toMatchObject({ method: "GET", path: "/koodrive/ose/v1/share", userId: DEMO.leaver });
  });
});

describe("the tenant-wide rate limit (a gateway's limit the service is not told)", () => {
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const putLimit = (body: unknown, token: string = SIM.adminToken) =>
    fetch("http://sim.local/__sim/limit", {
      method: "PUT",
      headers: { authorization: `Bearer ${token}` },
      body: JSON.stringify(body),
    });

  it("is off by default: a burst of 30 calls all pass", async () => {
    const statuses = await Promise.all(
      Array.from({ length: 30 }, () => list(DEMO.leaver).then((r) => r.status)),
    );
    expect(statuses.every((s) => s === 200)).toBe(true);
    const stats = await sim.stats();
    expect(stats.limit).toEqual({ config: null, throttled: 0 });
    expect(stats.calls).toBe(30);
  });

  it("answers calls beyond the bucket 429 with Retry-After and the gateway's code, without side effects", async () => {
    const ids = (await sim.shares(DEMO.leaver, "active")).slice(0, 2).map((s) => s.shareId);
    await sim.limit({ rps: 0.5, burst: 3 });
    const passed = [];
    for (let i = 0; i < 3; i++) passed.push((await list(DEMO.leaver)).status);
    expect(passed).toEqual([200, 200, 200]);
    const res = await signedFetch({
      method: "POST",
      path: "/share/cancel",
      userId: DEMO.leaver,
      body: { shareIds: ids },
    });
    expect(res.status).toBe(429);
    // 0.5 tokens/s and an empty bucket: the next token is about 2 s away, sent as whole seconds.
    expect(res.headers.get("retry-after")).toBe("2");
    expect(((await res.json()) as Envelope).code).toBe("APIGW.0308");
    expect((await list(DEMO.admin)).status).toBe(429);
    expect(await sim.summary(DEMO.leaver)).toMatchObject({ cancelled: 0 });
    const stats = await sim.stats();
    expect(stats).toMatchObject({ calls: 5, limit: { config: { rps: 0.5, burst: 3 }, throttled: 2 } });
    expect(stats.statuses).toMatchObject({ "200": 3, "429": 2 });
    const logged = (await sim.calls()).calls.slice(-2);
    expect(logged.map((c) => [c.endpoint, c.status, c.fault])).toEqual([
      ["cancel", 429, "tenantLimit"],
      ["list", 429, "tenantLimit"],
    ]);
  });

  it("refills over time at the configured rate", async () => {
    await sim.limit({ rps: 10, burst: 2 });
    expect([(await list(DEMO.leaver)).status, (await list(DEMO.leaver)).status]).toEqual([200, 200]);
    const refused = await signedFetch({ path: "/share", userId: DEMO.leaver });
    expect(refused.status).toBe(429);
    expect(refused.headers.get("retry-after")).toBe("1");
    await sleep(250); // 10 tokens/s: two tokens back, never more than the burst
    expect((await list(DEMO.leaver)).status).toBe(200);
    expect((await list(DEMO.leaver)).status).toBe(200);
    expect((await list(DEMO.leaver)).status).toBe(429);
  });

  it("takes no token for an unsigned call, and never limits the control plane", async () => {
    await sim.limit({ rps: 0.1, burst: 1 });
    expect((await signedFetch({ path: "/share", userId: DEMO.leaver, appSecret: "wrong" })).status).toBe(401);
    expect((await list(DEMO.leaver)).status).toBe(200);
    for (let i = 0; i < 5; i++) expect((await sim.summary(DEMO.leaver)).active).toBe(36);
    expect((await list(DEMO.leaver)).status).toBe(429);
  });

  it("is turned off by {rps: null} and by reset", async () => {
    await sim.limit({ rps: 0.1, burst: 1 });
    await list(DEMO.leaver);
    expect((await list(DEMO.leaver)).status).toBe(429);
    expect(await sim.limit({ rps: null })).toEqual({ limit: null });
    expect((await list(DEMO.leaver)).status).toBe(200);
    await sim.limit({ rps: 0.1, burst: 1 });
    await sim.reset();
    await sim.seed({ demo: true });
    for (let i = 0; i < 3; i++) expect((await list(DEMO.leaver)).status).toBe(200);
    expect((await sim.stats()).limit).toEqual({ config: null, throttled: 0 });
  });

  it("refuses a bad limit with 400 and a call without the admin token with 401, keeping the limit off", async () => {
    for (const body of [
      { rps: 0 },
      { rps: -1 },
      { rps: "20" },
      { rps: 20, burst: 1.5 },
      { rps: 20, burst: 0 },
      {},
    ]) {
      expect((await putLimit(body)).status).toBe(400);
    }
    expect((await putLimit({ rps: 1 }, "nope")).status).toBe(401);
    expect((await sim.stats()).limit.config).toBeNull();
    expect(await sim.limit({ rps: 20 })).toEqual({ limit: { rps: 20, burst: 20 } });
  });
});
