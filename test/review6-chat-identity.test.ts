import { createExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import { type Bindings, ConfigError, loadConfig } from "../src/env";
import worker from "../src/index";
import { ADMIN_TOKEN } from "./helpers/worker";

/**
 * Review 6, area 1: a malformed chat operator link names the setting, the entry and its id, never the e-mail
 * (docs/security.md "Four eyes across chat and the console"). An entry written the wrong way round,
 * `<e-mail>=<id>`, is the likeliest mistake: its "id" is the e-mail.
 */

const EMAIL = "ada.lovelace@example.com";
const SWAPPED = `W0OPERATOR2, ${EMAIL}=U2CERLKJA`;

function catchConfig(bindings: Bindings): ConfigError {
  try {
    loadConfig(bindings);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error("expected a ConfigError");
}

describe("review6: a chat operator link written the wrong way round", () => {
  const errors = vi.spyOn(console, "error").mockImplementation(() => undefined);
  afterEach(() => errors.mockClear());
  afterAll(() => errors.mockRestore());

  it("is refused without the e-mail in the problem (config)", () => {
    for (const name of ["SLACK_OPERATORS", "TEAMS_OPERATORS"] as const) {
      const err = catchConfig({ ...env, [name]: SWAPPED } as unknown as Bindings);
      expect(err.message).toMatch(new RegExp(`${name} entry 2`));
      expect(err.message).not.toContain(EMAIL);
      expect(JSON.stringify(err.problems)).not.toContain(EMAIL);
    }
  });

  it("the log and the admin's 503 through the Worker's entry name the entry, not the e-mail", async () => {
    const broken = { ...env, SLACK_OPERATORS: SWAPPED } as unknown as Bindings;
    const res = await worker.fetch(
      new Request("https://offboard.example.com/audit?limit=1", {
        headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      }),
      broken,
      createExecutionContext(),
    );
    expect(res.status).toBe(503);
    const text = await res.text();
    expect(JSON.parse(text)).toMatchObject({ error: { code: "misconfigured" } });
    expect(text).toMatch(/SLACK_OPERATORS entry 2/);
    expect(text).not.toContain(EMAIL);
    const logged = errors.mock.calls.map((args) => String(args[0])).join("\n");
    expect(logged).toMatch(/SLACK_OPERATORS entry 2/);
    expect(logged).not.toContain(EMAIL);
  });
});
