import { describe, expect, it } from "vitest";
import { APPROVE_ACTION_ID, type ApprovalGate, REJECT_ACTION_ID } from "../../src/offboarding/approval";
import { approvalBlocks, decidedText, parseButtonValue } from "../../src/offboarding/slack-blocks";

const RUN = "slack-0123456789abcdef0123456789abcdef";
const gate: ApprovalGate = {
  reasons: ["name_match"],
  detail: "a name match needs an operator",
  requester: "slack:t1:u2",
  source: "slack",
  deadline: "2026-12-04T00:00:00.000Z",
  planShares: 36,
  planDigest: "ab".repeat(32),
  candidate: { koodriveUserId: "1505084218764547201", name: "Dana Leaver" },
  since: "2026-12-01T00:00:00.000Z",
};

describe("Slack approval blocks", () => {
  it("carry Approve (with a confirm dialog) and Reject; a name match's buttons name the candidate", () => {
    const blocks = approvalBlocks(RUN, gate, "Dana Leaver") as Array<{
      type: string;
      elements?: Array<{ action_id: string; value: string; style: string; confirm?: unknown }>;
    }>;
    const buttons = blocks.find((b) => b.type === "actions")?.elements ?? [];
    expect(buttons.map((b) => [b.action_id, b.style, b.value])).toEqual([
      [APPROVE_ACTION_ID, "primary", `${RUN}|1505084218764547201`],
      [REJECT_ACTION_ID, "danger", `${RUN}|1505084218764547201`],
    ]);
    expect(buttons[0]?.confirm).toBeDefined();
    expect(JSON.stringify(blocks)).toContain("36 share(s)");
  });

  it("parse back only our values", () => {
    expect(parseButtonValue(RUN)).toEqual({ runId: RUN });
    expect(parseButtonValue(`${RUN}|1505084218764547201`)).toEqual({
      runId: RUN,
      koodriveUserId: "1505084218764547201",
    });
    for (const bad of ["", "x", `${RUN}|123`, `${RUN}|1505084218764547201|x`, `../${RUN}`])
      expect(parseButtonValue(bad)).toBeNull();
  });

  it("say who decided, when and what follows", () => {
    expect(
      decidedText(RUN, {
        verdict: "approved",
        by: "slack:T:W (w)",
        at: "2026-12-01T01:00:00.000Z",
        planShares: 36,
      }),
    ).toBe(
      `Approved: the run cancels 36 share(s). \`${RUN}\`, approved by slack:T:W (w) at 2026-12-01T01:00:00.000Z.`,
    );
    expect(
      decidedText(RUN, { verdict: "rejected", by: "x", at: "t", planShares: 1, reason: "no" }),
    ).toContain("Rejected: nothing will be done");
  });
});
