import { createExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import { MISCONFIGURED_MESSAGE } from "../src/app";
import { type Bindings, ConfigError, loadConfig } from "../src/env";
import worker from "../src/index";
import { ADMIN_TOKEN, call, HR_SECRET } from "./helpers/worker";

const valid = {
  KOODRIVE_BASE_URL: "https://intl.myhuaweicloud-koodrive.com",
  KOODRIVE_APP_ID: "app",
  KOODRIVE_APP_SECRET: "secret",
  // The published vector's secret (24 bytes) and "a-second-secret-for-rotation" (28 bytes).
  HR_WEBHOOK_SECRETS: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw whsec_YS1zZWNvbmQtc2VjcmV0LWZvci1yb3RhdGlvbg==",
  ADMIN_TOKEN: "a-long-enough-admin-token",
  AUDIT_RETENTION_DAYS: "400",
  CANCEL_PARALLELISM: "4",
  KOODRIVE_DIRECTORY_USER_ID: "",
  KOODRIVE_RETRY_BASE_MS: "250",
} as unknown as Bindings;

/** A 1-byte HR key: valid base64 behind `whsec_`, far below the 24 bytes Standard Webhooks asks for. */
const ONE_BYTE_HR_KEY = "whsec_AQ==";
const NOT_BASE64_HR = "whsec_not*base64*at*all";

describe("configuration (parsed once)", () => {
  it("parses vars and secrets once, splitting the webhook secrets", () => {
    const config = loadConfig({ ...valid });
    expect(config.HR_WEBHOOK_SECRETS).toHaveLength(2);
    expect(config.CANCEL_PARALLELISM).toBe(4);
  });

  it("names a missing secret, without printing any secret value", () => {
    const env = { ...valid } as Record<string, unknown>;
    delete env.KOODRIVE_APP_SECRET;
    expect(() => loadConfig(env as unknown as Bindings)).toThrow(ConfigError);
    expect(() => loadConfig(env as unknown as Bindings)).toThrow(/KOODRIVE_APP_SECRET is not set/);
    try {
      loadConfig(env as unknown as Bindings);
    } catch (err) {
      expect(String(err)).not.toContain("a-long-enough-admin-token");
    }
  });

  it("rejects malformed values with the variable's name", () => {
    expect(() => loadConfig({ ...valid, HR_WEBHOOK_SECRETS: "not-a-secret" })).toThrow(
      /HR_WEBHOOK_SECRETS entry 1/,
    );
    expect(() => loadConfig({ ...valid, CANCEL_PARALLELISM: "99" })).toThrow(/CANCEL_PARALLELISM/);
    expect(() => loadConfig({ ...valid, ADMIN_TOKEN: "short" })).toThrow(/ADMIN_TOKEN/);
    expect(() => loadConfig({ ...valid, KOODRIVE_BASE_URL: "nope" })).toThrow(/KOODRIVE_BASE_URL/);
  });

  it("the actions of a run (issue 10): default revoke_shares alone; names checked; handover and block need the directory user", () => {
    const config = loadConfig({ ...valid });
    expect(config.OFFBOARDING_ACTIONS).toEqual(["revoke_shares"]);
    expect(config.WATCH_AFTER).toEqual([3_600_000, 86_400_000, 7 * 86_400_000]);
    expect(config.HANDOVER_TIMEOUT_HOURS).toBe(48);
    expect(config.EVIDENCE_MAX_PAGES).toBe(10);
    // Put in the order they run, whatever order the setting lists them in.
    expect(
      loadConfig({ ...valid, OFFBOARDING_ACTIONS: "watch, REVOKE_SHARES" } as Bindings).OFFBOARDING_ACTIONS,
    ).toEqual(["revoke_shares", "watch"]);
    expect(() =>
      loadConfig({ ...valid, OFFBOARDING_ACTIONS: "revoke_shares,delete_user" } as Bindings),
    ).toThrow(/OFFBOARDING_ACTIONS must be a comma list/);
    expect(() => loadConfig({ ...valid, OFFBOARDING_ACTIONS: "revoke_shares,handover" } as Bindings)).toThrow(
      /KOODRIVE_DIRECTORY_USER_ID must be set when OFFBOARDING_ACTIONS includes handover/,
    );
    const withDirectory = {
      ...valid,
      OFFBOARDING_ACTIONS: "revoke_shares,handover,block_login",
      KOODRIVE_DIRECTORY_USER_ID: "1505084218764547200",
    } as Bindings;
    expect(loadConfig(withDirectory).OFFBOARDING_ACTIONS).toEqual([
      "revoke_shares",
      "handover",
      "block_login",
    ]);
    for (const bad of ["24h,1h", "1h,1h", "1w", "31d", "", "1h,,2h"])
      if (bad !== "")
        expect(() => loadConfig({ ...valid, WATCH_AFTER: bad } as Bindings)).toThrow(/WATCH_AFTER/);
    expect(() => loadConfig({ ...valid, HANDOVER_DEFAULT_USER_ID: "ann@example.com" } as Bindings)).toThrow(
      /HANDOVER_DEFAULT_USER_ID/,
    );
  });

  it("refuses an HR key shorter than 24 bytes and one that is not base64, naming the entry, not the value", () => {
    const short = `${HR_SECRET} ${ONE_BYTE_HR_KEY}`;
    expect(() => loadConfig({ ...valid, HR_WEBHOOK_SECRETS: short })).toThrow(
      /HR_WEBHOOK_SECRETS entry 2 is a 1-byte key; Standard Webhooks keys are at least 24 bytes/,
    );
    // 23 bytes: one short of the minimum.
    const bytes23 = `whsec_${btoa("x".repeat(23))}`;
    expect(() => loadConfig({ ...valid, HR_WEBHOOK_SECRETS: bytes23 })).toThrow(/entry 1 is a 23-byte key/);
    expect(
      loadConfig({ ...valid, HR_WEBHOOK_SECRETS: `whsec_${btoa("x".repeat(24))}` }).HR_WEBHOOK_SECRETS,
    ).toHaveLength(1);
    for (const bad of [NOT_BASE64_HR, "whsec_abc", "whsec_====", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]) {
      const err = catchConfig({ ...valid, HR_WEBHOOK_SECRETS: `${HR_SECRET} ${bad}` });
      expect(err.message).toMatch(/HR_WEBHOOK_SECRETS entry 2 is not a whsec_<base64> secret/);
      expect(err.message).not.toContain(bad);
      expect(err.problems).toEqual([{ path: "HR_WEBHOOK_SECRETS", message: expect.any(String) }]);
    }
  });

  it("accepts https for KooDrive, and http only on a loopback host", () => {
    for (const ok of [
      "https://intl.myhuaweicloud-koodrive.com",
      "http://127.0.0.1:8788",
      "http://localhost:8788",
      "http://[::1]:8788",
    ]) {
      expect(loadConfig({ ...valid, KOODRIVE_BASE_URL: ok }).KOODRIVE_BASE_URL).toBe(ok);
    }
    for (const bad of [
      "http://intl.myhuaweicloud-koodrive.com",
      "http://localhost.evil.example",
      "http://127.0.0.2:8788",
      "ftp://127.0.0.1",
      "intl.myhuaweicloud-koodrive.com",
    ]) {
      expect(() => loadConfig({ ...valid, KOODRIVE_BASE_URL: bad }), bad).toThrow(
        /KOODRIVE_BASE_URL must be an https:\/\/ URL/,
      );
    }
  });

  it("chat operators may carry an e-mail (`<id>=<e-mail>`, their identity for four eyes): lower-cased A-Z only, ids as sent", () => {
    const config = loadConfig({
      ...valid,
      SLACK_OPERATORS: " U2CERLKJA = Ada@Example.COM , W0OPERATOR2,U2CERLKJA",
      TEAMS_OPERATORS: "6f1c7a2e-0000-4000-8000-0000000000aa=Olu@Example.com",
    });
    expect(config.SLACK_OPERATORS.ids).toEqual(["U2CERLKJA", "W0OPERATOR2"]);
    expect([...config.SLACK_OPERATORS.emails]).toEqual([["U2CERLKJA", "ada@example.com"]]);
    expect(config.TEAMS_OPERATORS.ids).toEqual(["6f1c7a2e-0000-4000-8000-0000000000aa"]);
    expect([...config.TEAMS_OPERATORS.emails]).toEqual([
      ["6f1c7a2e-0000-4000-8000-0000000000aa", "olu@example.com"],
    ]);
    // Bare ids, as before: operators without a link.
    expect(loadConfig({ ...valid, SLACK_OPERATORS: "U2CERLKJA" }).SLACK_OPERATORS).toEqual({
      ids: ["U2CERLKJA"],
      emails: new Map(),
    });
  });

  it("refuses a chat operator entry that is malformed, naming the setting and the entry, never the e-mail", () => {
    const cases: Array<[keyof Bindings, string, RegExp, string?]> = [
      // U+212A KELVIN SIGN: toLowerCase() would make it "kate@", a look-alike of a listed address.
      [
        "SLACK_OPERATORS",
        "W0OPERATOR2, U2CERLKJA=\u212Aate@example.com",
        /entry 2 \(U2CERLKJA\) must have a plain ASCII e-mail/,
        "ate@example",
      ],
      ["SLACK_OPERATORS", "U2CERLKJA=", /entry 1 \(U2CERLKJA\) must have a plain ASCII e-mail/],
      ["SLACK_OPERATORS", "U2CERLKJA=@example.com", /entry 1 \(U2CERLKJA\) must have/, "example.com"],
      ["SLACK_OPERATORS", "U2CERLKJA=ada@two@example.com", /entry 1 \(U2CERLKJA\) must have/, "two@"],
      [
        "SLACK_OPERATORS",
        "U2CERLKJA=ada lovelace@example.com",
        /entry 1 \(U2CERLKJA\) must have/,
        "lovelace",
      ],
      ["SLACK_OPERATORS", "U2CERLKJA=ada@jörg.example", /entry 1 \(U2CERLKJA\) must have/, "jörg"],
      [
        "SLACK_OPERATORS",
        "=ada@example.com",
        /entry 1 must be a user id, optionally followed by =<e-mail>/,
        "ada@",
      ],
      ["SLACK_OPERATORS", "U2 CERLKJA=ada@example.com", /entry 1 must be a user id/, "ada@"],
      [
        "SLACK_OPERATORS",
        "U2CERLKJA=ada@example.com, U2CERLKJA=bob@example.com",
        /entry 2 \(U2CERLKJA\) lists that id again with another e-mail/,
        "bob@",
      ],
      [
        "TEAMS_OPERATORS",
        "6f1c7a2e-0000-4000-8000-0000000000aa=olu",
        /entry 1 \(6f1c7a2e-0000-4000-8000-0000000000aa\) must have a plain ASCII e-mail/,
        "olu",
      ],
    ];
    for (const [name, value, problem, hidden] of cases) {
      // Not the whole configuration: the list has no operator and a problem (chat and decisions answer 503).
      const list = loadConfig({ ...valid, [name]: value })[name as "SLACK_OPERATORS" | "TEAMS_OPERATORS"];
      expect(list.problem, value).toMatch(new RegExp(`${name} ${problem.source}`));
      expect(list.ids, value).toEqual([]);
      if (hidden) expect(list.problem, value).not.toContain(hidden);
    }
  });
});

function catchConfig(env: Bindings): ConfigError {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error("expected a ConfigError");
}

const ORIGIN = "https://offboard.example.com";

/** The Worker's entry (`src/index.ts` default export) with the test env changed; `undefined` removes a key. */
function fetchWith(changes: Record<string, string | undefined>, path: string, init: RequestInit = {}) {
  const broken: Record<string, unknown> = { ...env };
  for (const [k, v] of Object.entries(changes)) {
    if (v === undefined) delete broken[k];
    else broken[k] = v;
  }
  return worker.fetch(
    new Request(`${ORIGIN}${path}`, init),
    broken as unknown as Bindings,
    createExecutionContext(),
  );
}

/** Every variable name the Worker reads (vars, secrets): none may appear in an answer to a stranger. */
const VARIABLE_NAMES = Object.keys(env).filter((k) => /^[A-Z][A-Z0-9_]+$/.test(k));

interface Envelope {
  error: { code: string; message: string; requestId: string; details?: Array<{ path: string }> };
}

/** 503 `misconfigured` in our envelope, with the generic message and nothing that names or shows a setting. */
async function expectGeneric503(res: Response, secretValues: string[]): Promise<void> {
  expect(res.status).toBe(503);
  const text = await res.text();
  const body = JSON.parse(text) as Envelope;
  expect(body.error.code).toBe("misconfigured");
  expect(body.error.message).toBe(MISCONFIGURED_MESSAGE);
  expect(body.error.requestId).toBe(res.headers.get("x-request-id"));
  expect(body.error.details).toBeUndefined();
  for (const name of VARIABLE_NAMES) expect(text).not.toContain(name);
  for (const value of secretValues) expect(text).not.toContain(value);
  expect(text).not.toMatch(/whsec_|wrangler|secret put/);
}

const ROUTES: Array<[string, RequestInit]> = [
  ["/healthz", {}],
  ["/webhooks/hr", { method: "POST", headers: { "content-type": "application/json" }, body: "{}" }],
  ["/webhooks/okta", { method: "POST", body: "{}" }],
  ["/scim/v2/Users", { headers: { authorization: "Bearer scim-test-token-0123456789abcdef" } }],
  ["/chatops/slack", { method: "POST", body: "text=help" }],
  ["/chatops/teams", { method: "POST", body: "{}" }],
  ["/audit", {}],
  ["/audit", { headers: { authorization: "Bearer not-the-admin-token" } }],
  ["/no/such/route", {}],
];

describe("a broken required setting (through the Worker's entry)", () => {
  // The logs are part of what is asserted (and kept out of the test output).
  const errors = vi.spyOn(console, "error").mockImplementation(() => undefined);
  afterEach(() => errors.mockClear());
  afterAll(() => errors.mockRestore());

  const cases: Array<[string, Record<string, string | undefined>, string[], RegExp]> = [
    [
      "a 1-byte HR key",
      { HR_WEBHOOK_SECRETS: ONE_BYTE_HR_KEY },
      [ONE_BYTE_HR_KEY, "AQ=="],
      /entry 1 is a 1-byte key/,
    ],
    [
      "an HR secret that is not base64",
      { HR_WEBHOOK_SECRETS: NOT_BASE64_HR },
      [NOT_BASE64_HR],
      /entry 1 is not/,
    ],
    [
      "a plain-http KooDrive URL",
      { KOODRIVE_BASE_URL: "http://intl.myhuaweicloud-koodrive.com" },
      ["myhuaweicloud-koodrive.com"],
      /KOODRIVE_BASE_URL must be an https/,
    ],
    [
      "a missing KooDrive app secret",
      { KOODRIVE_APP_SECRET: undefined },
      [],
      /KOODRIVE_APP_SECRET is not set/,
    ],
  ];

  for (const [what, changes, values, problem] of cases) {
    it(`${what}: health check and every route answer a generic 503; logs and the admin get the details`, async () => {
      for (const [path, init] of ROUTES) {
        const res = await fetchWith(changes, path, init);
        await expectGeneric503(res, values);
      }
      // The log names the variable on every such request (never its value).
      const logged = errors.mock.calls.map((args) => String(args[0]));
      expect(logged.length).toBeGreaterThanOrEqual(ROUTES.length);
      for (const line of logged) {
        const entry = JSON.parse(line) as {
          level: string;
          msg: string;
          problems: Array<{ message: string }>;
        };
        expect(entry).toMatchObject({ level: "error", msg: "invalid configuration" });
        expect(entry.problems.map((p) => p.message).join(" ")).toMatch(problem);
        for (const value of values) expect(line).not.toContain(value);
      }
      // The admin (valid ADMIN_TOKEN) is told which variable is wrong, still without its value.
      const res = await fetchWith(changes, "/audit?limit=1", {
        headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      });
      expect(res.status).toBe(503);
      const text = await res.text();
      const body = JSON.parse(text) as Envelope;
      expect(body.error.code).toBe("misconfigured");
      expect(body.error.message).toMatch(problem);
      expect(body.error.details?.map((d) => d.path)).toEqual([Object.keys(changes)[0]]);
      for (const value of values) expect(text).not.toContain(value);
    });
  }

  it("a bad ADMIN_TOKEN tells no one, not even a caller who sends that very token", async () => {
    const changes = { ADMIN_TOKEN: "short-token", HR_WEBHOOK_SECRETS: ONE_BYTE_HR_KEY };
    for (const token of ["short-token", ADMIN_TOKEN]) {
      const res = await fetchWith(changes, "/audit", { headers: { authorization: `Bearer ${token}` } });
      await expectGeneric503(res, ["short-token", ONE_BYTE_HR_KEY]);
    }
    expect(String(errors.mock.calls[0]?.[0])).toMatch(/ADMIN_TOKEN must be at least 16 characters/);
  });

  it("a bad optional Teams token disables Teams only (generic 503 there), not the service", async () => {
    const changes = { TEAMS_WEBHOOK_TOKENS: "this is not base64 at all!" };
    await expectGeneric503(await fetchWith(changes, "/chatops/teams", { method: "POST", body: "{}" }), [
      "this is not base64",
    ]);
    expect(String(errors.mock.calls[0]?.[0])).toContain("TEAMS_WEBHOOK_TOKENS entry 1 is not base64");
    expect((await fetchWith(changes, "/healthz")).status).toBe(200);
    const audit = await fetchWith(changes, "/audit?limit=1", {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    expect(audit.status).toBe(200);
    // The second of two tokens is named by its position.
    const valid64 = "dGVhbXMtdGVzdC1zZWN1cml0eS10b2tlbi0wMTIzNDU2Nzg5";
    errors.mockClear();
    await expectGeneric503(
      await fetchWith({ TEAMS_WEBHOOK_TOKENS: `${valid64}, not*base64*token*value` }, "/chatops/teams", {
        method: "POST",
        body: "{}",
      }),
      [valid64, "not*base64"],
    );
    expect(String(errors.mock.calls[0]?.[0])).toContain("TEAMS_WEBHOOK_TOKENS entry 2 is not base64");
  });

  it("serves /healthz when the configuration is valid", async () => {
    const res = await call("/healthz");
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: "ok" });
  });
});
