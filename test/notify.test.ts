import { beforeEach, describe, expect, it, vi } from "vitest";
import { invocationIsTraced, postToChat } from "../src/offboarding/notify";
import { sim } from "./helpers/sim";

/** A Slack response_url: its last path segment is the credential. In tests every fetch lands in the simulator. */
const PATH = "/commands/T1DC2JH3J/397700885554/notifyTestSecret0123456";
const RESPONSE_URL = `https://hooks.slack.com${PATH}`;

const postedTo = async (path: string) => (await sim.calls(0)).calls.filter((c) => c.path === path).length;

beforeEach(async () => {
  await sim.reset();
});

describe("posting a run's result to Slack", () => {
  it("never sends the response_url from a traced invocation (a trace records every fetch's full URL)", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => undefined);
    try {
      expect(await postToChat(RESPONSE_URL, "done", { traced: true })).toBe(false);
      expect(await postedTo(PATH)).toBe(0);
      const logged = String(warn.mock.calls[0]?.[0]);
      expect(logged).toMatch(/not posted to Slack: this invocation is traced/);
      expect(logged).not.toContain("notifyTestSecret");
    } finally {
      warn.mockRestore();
    }
  });

  it("posts when the invocation is not traced (locally and in tests it never is)", async () => {
    expect(invocationIsTraced()).toBe(false);
    await postToChat(RESPONSE_URL, "done");
    expect(await postedTo(PATH)).toBe(1);
  });

  it("posts only to Slack's own response URLs", async () => {
    expect(await postToChat("https://evil.example/commands/x", "done", { traced: false })).toBe(false);
    expect(await postedTo("/commands/x")).toBe(0);
  });
});
