import { describe, expect, it } from "vitest";
import type { ShareLink } from "../../src/koodrive/schema";
import { holdReason, NO_HOLDS, planShares } from "../../src/offboarding/plan";

const OWNER = "1505084218764547201";

function link(shareId: string, scope: number, extra: Partial<ShareLink> = {}): ShareLink {
  return {
    shareId,
    scope,
    displayName: `doc ${shareId}`,
    linkUrl: `https://example.invalid/l/${shareId}`,
    shortUrl: `https://example.invalid/s/${shareId}`,
    expireTime: "2027-01-01T00:00:00Z",
    status: 0,
    ...extra,
  } as ShareLink;
}

describe("planShares (pure): what to cancel, and why not", () => {
  it("plans every share in scope, with a snapshot of what it was", () => {
    const [a] = planShares([link("1", 1)], OWNER, [1, 2, 3], NO_HOLDS);
    expect(a).toEqual({
      shareId: "1",
      scope: 1,
      displayName: "doc 1",
      linkUrl: "https://example.invalid/l/1",
      shortUrl: "https://example.invalid/s/1",
      expireTime: "2027-01-01T00:00:00Z",
      shareStatus: 0,
      state: "planned",
      reason: "",
    });
  });

  it("skips shares outside the requested scopes, saying which scopes were asked for", () => {
    const plan = planShares([link("1", 1), link("2", 2), link("3", 3)], OWNER, [3, 1], NO_HOLDS);
    expect(plan.map((p) => [p.shareId, p.state])).toEqual([
      ["1", "planned"],
      ["2", "skipped_scope"],
      ["3", "planned"],
    ]);
    expect(plan[1]?.reason).toBe("scope 2 not in [3,1]");
  });

  it("a hold wins over scope: a held user skips everything, a held share only itself", () => {
    const byShare = { userIds: new Set<string>(), shareIds: new Set(["2"]) };
    expect(planShares([link("1", 1), link("2", 9)], OWNER, [1], byShare).map((p) => p.state)).toEqual([
      "planned",
      "skipped_hold",
    ]);
    const byUser = { userIds: new Set([OWNER]), shareIds: new Set<string>() };
    const held = planShares([link("1", 1), link("2", 2)], OWNER, [1, 2, 3], byUser);
    expect(held.every((p) => p.state === "skipped_hold")).toBe(true);
    expect(held[0]?.reason).toBe(`user ${OWNER} is on hold`);
  });

  it("tolerates missing optional fields (empty text, status 0) and keeps the listing order", () => {
    const sparse = { shareId: "7", scope: 2 } as unknown as ShareLink;
    const [p] = planShares([sparse], OWNER, [2], NO_HOLDS);
    expect(p).toMatchObject({ displayName: "", linkUrl: "", shortUrl: "", expireTime: "", shareStatus: 0 });
  });
});

describe("holdReason", () => {
  it("names the hold, or null", () => {
    const holds = { userIds: new Set(["u"]), shareIds: new Set(["s"]) };
    expect(holdReason(holds, "u", "x")).toBe("user u is on hold");
    expect(holdReason(holds, "o", "s")).toBe("share s is on hold");
    expect(holdReason(holds, "o", "x")).toBeNull();
  });
});
