import { env } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import { MAX_HOLDS } from "../src/offboarding/holds";
import { adminCall, auditOf, expectError } from "./helpers/admin";
import { DEMO, sim } from "./helpers/sim";
import { createToken, revokeToken, tokenName, withToken } from "./helpers/tokens";
import { call, clearHolds, offboardedEvent, sendHr, waitForRun } from "./helpers/worker";

/** Share ids in the 19-digit form (holds are checked by id only; no KooDrive share is needed). */
const S1 = "1689759841444195001";
const S2 = "1689759841444195002";
const S3 = "1689759841444195003";

interface HoldsView {
  version: number;
  holds: Array<{ type: string; id: string; reason: string; createdBy: string }>;
}

async function readHolds(): Promise<HoldsView & { etag: string | null }> {
  const { res } = await adminCall("/holds");
  expect(res.status).toBe(200);
  return { ...((await res.json()) as HoldsView), etag: res.headers.get("etag") };
}

const share = (id: string, reason: string) => ({ type: "share", id, reason });
const keys = (view: HoldsView) => view.holds.map((h) => `${h.type}:${h.id}`).sort();
const putHolds = (holds: unknown[], ifMatch?: string, actor = "alice") =>
  adminCall("/holds", {
    method: "PUT",
    body: { holds },
    headers: { "x-audit-actor": actor, ...(ifMatch === undefined ? {} : { "if-match": ifMatch }) },
  });

beforeEach(async () => {
  await clearHolds();
});

describe("GET /holds", () => {
  it("answers the holds with their version, also as a strong ETag", async () => {
    const view = await readHolds();
    expect(view.version).toEqual(expect.any(Number));
    expect(view.etag).toBe(`"${view.version}"`);
  });
});

describe("PUT /holds is conditional", () => {
  it("refuses a replace without If-Match with 428 and changes nothing", async () => {
    await putHolds([share(S1, "legal hold LH-1")], "*");
    const before = await readHolds();
    const { res, requestId } = await putHolds([]);
    const error = await expectError(res, 428, "precondition_required");
    expect(error.message).toContain("If-Match");
    expect(await readHolds()).toEqual(before);
    expect(await auditOf(requestId)).toEqual([]);
  });

  it("refuses a stale version with 412 and changes nothing", async () => {
    const v0 = (await readHolds()).version;
    expect((await putHolds([share(S1, "LH-1")], `"${v0}"`)).res.status).toBe(200);
    const before = await readHolds();
    const { res, requestId } = await putHolds([], `"${v0}"`);
    await expectError(res, 412, "precondition_failed");
    expect(await readHolds()).toEqual(before);
    expect(await auditOf(requestId)).toEqual([]);
  });

  it("replaces with the current version, bumps it, and answers the new ETag", async () => {
    const { version, etag } = await readHolds();
    const { res } = await putHolds([share(S1, "LH-1"), share(S2, "LH-2")], etag ?? "");
    expect(res.status).toBe(200);
    const body = (await res.json()) as { version: number; added: number; removed: number; total: number };
    expect(body).toMatchObject({ version: version + 1, added: 2, removed: 0, total: 2 });
    expect(res.headers.get("etag")).toBe(`"${version + 1}"`);
    expect(keys(await readHolds())).toEqual([`share:${S1}`, `share:${S2}`]);
  });

  it('accepts the weak form W/"<version>" a compressing proxy hands out, a bare number, and * to overwrite', async () => {
    const v = (await readHolds()).version;
    expect((await putHolds([share(S1, "a")], `W/"${v}"`)).res.status).toBe(200);
    expect((await putHolds([share(S2, "b")], `${v + 1}`)).res.status).toBe(200);
    expect((await putHolds([share(S3, "c")], `"0", "${v + 2}"`)).res.status).toBe(200);
    expect((await putHolds([], "*")).res.status).toBe(200);
    expect((await readHolds()).holds).toEqual([]);
  });

  it("keeps the version when a replace changes nothing, so a retried save succeeds", async () => {
    const { etag } = await readHolds();
    const first = await putHolds([share(S1, "LH-1")], etag ?? "");
    const tag = first.res.headers.get("etag") ?? "";
    const again = await putHolds([share(S1, "LH-1")], tag);
    expect(again.res.status).toBe(200);
    expect(again.res.headers.get("etag")).toBe(tag);
  });

  it("keeps who created a hold that a replace keeps", async () => {
    // Two admins, each with their own API token: the verified identity is recorded, not X-Audit-Actor.
    const alice = await createToken("admin", tokenName("alice"));
    const bob = await createToken("admin", tokenName("bob"));
    const put = (token: string, holds: unknown[]) =>
      withToken(token, "/holds", {
        method: "PUT",
        headers: { "content-type": "application/json", "if-match": "*", "x-audit-actor": "mallory" },
        body: JSON.stringify({ holds }),
      });
    expect((await put(alice.token, [share(S1, "LH-1")])).status).toBe(200);
    expect((await put(bob.token, [share(S1, "LH-1"), share(S2, "LH-2")])).status).toBe(200);
    const holds = (await readHolds()).holds;
    expect(holds.find((h) => h.id === S1)?.createdBy).toBe(`token:${alice.name} (${alice.id})`);
    expect(holds.find((h) => h.id === S2)?.createdBy).toBe(`token:${bob.name} (${bob.id})`);
    await revokeToken(alice.id);
    await revokeToken(bob.id);
  });

  it("refuses a list naming one hold twice (422)", async () => {
    const { res } = await putHolds([share(S1, "a"), share(S1, "b")], "*");
    const error = await expectError(res, 422, "invalid_body");
    expect(error.details?.[0]?.message).toContain("listed twice");
    expect((await readHolds()).holds).toEqual([]);
  });
});

describe("two admins saving at once", () => {
  it("one replace wins, the other gets 412; re-reading and saving again loses no hold", async () => {
    const base = await readHolds();
    const tag = base.etag ?? "";
    // Each admin read the same (empty) list and adds one legal hold to it.
    const [a, b] = await Promise.all([
      putHolds([share(S1, "LH-alice")], tag, "alice"),
      putHolds([share(S2, "LH-bob")], tag, "bob"),
    ]);
    expect([a.res.status, b.res.status].sort()).toEqual([200, 412]);
    const loser = a.res.status === 412 ? { id: S1, reason: "LH-alice" } : { id: S2, reason: "LH-bob" };
    const winner = loser.id === S1 ? S2 : S1;
    expect(keys(await readHolds())).toEqual([`share:${winner}`]);

    // The loser does what the 412 says: reads again and applies the change to the current list.
    const now = await readHolds();
    const retry = await putHolds([...now.holds, share(loser.id, loser.reason)], now.etag ?? "");
    expect(retry.res.status).toBe(200);
    expect(keys(await readHolds())).toEqual([`share:${S1}`, `share:${S2}`]);
  });

  it("a hold POSTed after another admin read the list makes that admin's replace fail (412), not vanish", async () => {
    const read = await readHolds();
    const post = await adminCall("/holds", { method: "POST", body: share(S1, "LH-legal") });
    expect(post.res.status).toBe(200);
    // The other admin saves the list as they read it (without S1): refused, S1 stays.
    const { res } = await putHolds([...read.holds, share(S2, "LH-2")], read.etag ?? "");
    await expectError(res, 412, "precondition_failed");
    expect(keys(await readHolds())).toEqual([`share:${S1}`]);
  });

  it("two POSTs at once both land", async () => {
    const [a, b] = await Promise.all([
      adminCall("/holds", { method: "POST", body: share(S1, "LH-alice") }),
      adminCall("/holds", { method: "POST", body: share(S2, "LH-bob") }),
    ]);
    expect([a.res.status, b.res.status]).toEqual([200, 200]);
    expect(keys(await readHolds())).toEqual([`share:${S1}`, `share:${S2}`]);
  });
});

describe("POST /holds", () => {
  it("adds one hold or a few, and is idempotent for the same type and id (updates the reason)", async () => {
    const v = (await readHolds()).version;
    const one = await adminCall("/holds", { method: "POST", body: share(S1, "LH-1") });
    expect(one.res.status).toBe(200);
    expect(await one.res.json()).toMatchObject({ version: v + 1, added: 1, updated: 0, total: 1 });

    const few = await adminCall("/holds", {
      method: "POST",
      body: {
        holds: [share(S1, "LH-1 amended"), share(S2, "LH-2"), { type: "user", id: DEMO.leaver, reason: "x" }],
      },
    });
    expect(await few.res.json()).toMatchObject({ version: v + 2, added: 2, updated: 1, total: 3 });
    const holds = (await readHolds()).holds;
    expect(holds).toHaveLength(3);
    expect(holds.find((h) => h.id === S1)?.reason).toBe("LH-1 amended");

    const same = await adminCall("/holds", { method: "POST", body: share(S2, "LH-2") });
    expect(await same.res.json()).toMatchObject({ version: v + 2, added: 0, updated: 0, total: 3 });
  });

  it(`refuses to keep more than ${MAX_HOLDS} holds (409) and adds none of the request`, async () => {
    const ids = (from: number, count: number) =>
      Array.from({ length: count }, (_, i) => `1689759841${String(from + i).padStart(9, "0")}`);
    expect(
      (
        await putHolds(
          ids(0, MAX_HOLDS).map((id) => share(id, "bulk")),
          "*",
        )
      ).res.status,
    ).toBe(200);
    const { res } = await adminCall("/holds", {
      method: "POST",
      body: {
        holds: [
          share(ids(0, 1)[0] ?? "", "still fine"),
          ...ids(MAX_HOLDS, 1).map((id) => share(id, "one too many")),
        ],
      },
    });
    await expectError(res, 409, "conflict");
    const after = await readHolds();
    expect(after.holds).toHaveLength(MAX_HOLDS);
    expect(after.holds.find((h) => h.id === ids(0, 1)[0])?.reason).toBe("bulk");
  });

  it("checks an If-Match it is given", async () => {
    const { version } = await readHolds();
    const { res } = await adminCall("/holds", {
      method: "POST",
      body: share(S1, "LH-1"),
      headers: { "if-match": `"${version + 5}"` },
    });
    await expectError(res, 412, "precondition_failed");
    expect((await readHolds()).holds).toEqual([]);
  });

  it("refuses an invalid hold with 422 and stores none of the request", async () => {
    const { res } = await adminCall("/holds", {
      method: "POST",
      body: { holds: [share(S1, "ok"), share("12", "bad id")] },
    });
    await expectError(res, 422, "invalid_body");
    expect((await readHolds()).holds).toEqual([]);
  });

  it("a hold added by POST keeps a run from cancelling that share", async () => {
    await sim.reset();
    await sim.seed({ demo: true });
    const [held] = await sim.shares(DEMO.leaver, "active");
    await adminCall("/holds", { method: "POST", body: share(held?.shareId ?? "", "LH-9") });
    const res = await sendHr(offboardedEvent({ id: "E-7001", koodriveUserId: DEMO.leaver }));
    const run = await waitForRun(((await res.json()) as { runId: string }).runId);
    expect(run.shares.find((s) => s.shareId === held?.shareId)?.state).toBe("skipped_hold");
    expect((await sim.shares(DEMO.leaver, "active")).map((s) => s.shareId)).toEqual([held?.shareId]);
  });
});

describe("DELETE /holds/:type/:id", () => {
  it("removes one hold and bumps the version; 404 when absent", async () => {
    await putHolds([share(S1, "LH-1"), share(S2, "LH-2")], "*");
    const v = (await readHolds()).version;
    const del = await adminCall(`/holds/share/${S1}`, { method: "DELETE" });
    expect(del.res.status).toBe(200);
    expect(await del.res.json()).toMatchObject({
      version: v + 1,
      removed: { id: S1, reason: "LH-1" },
      total: 1,
    });
    expect(keys(await readHolds())).toEqual([`share:${S2}`]);

    await expectError((await adminCall(`/holds/share/${S1}`, { method: "DELETE" })).res, 404, "not_found");
    await expectError((await adminCall(`/holds/user/${S2}`, { method: "DELETE" })).res, 404, "not_found");
    expect((await readHolds()).version).toBe(v + 1);
  });

  it("answers 400 for a malformed type or id", async () => {
    await expectError((await adminCall(`/holds/file/${S1}`, { method: "DELETE" })).res, 400, "bad_request");
    await expectError((await adminCall("/holds/share/12", { method: "DELETE" })).res, 400, "bad_request");
  });

  it("needs the admin token (401) and then leaves the hold in place", async () => {
    await putHolds([share(S1, "LH-1")], "*");
    const res = await call(`/holds/share/${S1}`, { method: "DELETE" });
    await expectError(res, 401, "unauthorized");
    const post = await call("/holds", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(share(S2, "x")),
    });
    await expectError(post, 401, "unauthorized");
    expect(keys(await readHolds())).toEqual([`share:${S1}`]);
  });
});

describe("the audit names every hold changed", () => {
  it("PUT records which holds were added, removed and re-reasoned, with their reasons", async () => {
    await putHolds([share(S1, "LH-1"), share(S2, "LH-2")], "*");
    const { etag } = await readHolds();
    const { res, requestId } = await putHolds([share(S2, "LH-2b"), share(S3, "LH-3")], etag ?? "", "carol");
    expect(res.status).toBe(200);
    const [record, ...more] = await auditOf(requestId);
    expect(more).toEqual([]);
    expect(record).toMatchObject({
      type: "admin.holds",
      actor: "break-glass",
      verifiedBy: "break-glass",
      reason: "holds replaced",
      details: { added: 1, removed: 1, updated: 1, total: 2, ifMatch: etag, part: 1, parts: 1 },
    });
    expect(JSON.parse(String(record?.details?.changes))).toEqual([
      { change: "added", hold: `share:${S3}`, reason: "LH-3" },
      { change: "removed", hold: `share:${S1}`, reason: "LH-1" },
      { change: "updated", hold: `share:${S2}`, reason: "LH-2b", previousReason: "LH-2" },
    ]);
  });

  it("POST and DELETE record the hold they touched", async () => {
    const post = await adminCall("/holds", { method: "POST", body: share(S1, "LH-1") });
    const [added] = await auditOf(post.requestId);
    expect(added).toMatchObject({ reason: "holds added", details: { added: 1, removed: 0 } });
    expect(JSON.parse(String(added?.details?.changes))).toEqual([
      { change: "added", hold: `share:${S1}`, reason: "LH-1" },
    ]);

    const del = await adminCall(`/holds/share/${S1}`, { method: "DELETE" });
    const [removed] = await auditOf(del.requestId);
    expect(removed).toMatchObject({ reason: "hold removed", details: { added: 0, removed: 1 } });
    expect(JSON.parse(String(removed?.details?.changes))).toEqual([
      { change: "removed", hold: `share:${S1}`, reason: "LH-1" },
    ]);
  });

  it("a large replace is recorded in parts that together name every hold", async () => {
    const many = Array.from({ length: 120 }, (_, i) =>
      share(`16897598414441${String(i).padStart(5, "0")}`, `bulk ${i}`),
    );
    const { res, requestId } = await putHolds(many, "*");
    expect(res.status).toBe(200);
    const records = await auditOf(requestId);
    expect(records.map((r) => r.details?.part).sort()).toEqual([1, 2, 3]);
    expect(records.every((r) => r.details?.parts === 3 && r.details?.added === 120)).toBe(true);
    const named = records.flatMap((r) => JSON.parse(String(r.details?.changes)) as Array<{ hold: string }>);
    expect(named.map((c) => c.hold).sort()).toEqual(many.map((h) => `share:${h.id}`).sort());
  });
});

describe("the version lives with the holds", () => {
  it("is bumped in the Durable Object itself, by every kind of change", async () => {
    const stub = env.HOLDS.getByName("holds");
    const v = await stub.version();
    await adminCall("/holds", { method: "POST", body: share(S1, "a") });
    await adminCall(`/holds/share/${S1}`, { method: "DELETE" });
    await putHolds([share(S2, "b")], "*");
    expect(await stub.version()).toBe(v + 3);
  });
});
