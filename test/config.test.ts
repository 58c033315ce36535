import { describe, expect, it } from "vitest";
import { type Bindings, ConfigError, loadConfig } from "../src/env";
import { call } from "./helpers/worker";

const valid = {
  KOODRIVE_BASE_URL: "https://intl.myhuaweicloud-koodrive.com",
  KOODRIVE_APP_ID: "app",
  KOODRIVE_APP_SECRET: "secret",
  HR_WEBHOOK_SECRETS: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw whsec_dGVzdA==",
  ADMIN_TOKEN: "a-long-enough-admin-token",
  AUDIT_RETENTION_DAYS: "400",
  CANCEL_PARALLELISM: "4",
  KOODRIVE_DIRECTORY_USER_ID: "",
  KOODRIVE_RETRY_BASE_MS: "250",
} as unknown as Bindings;

describe("configuration", () => {
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

  it("serves /healthz even before configuration is checked", async () => {
    expect((await call("/healthz")).status).toBe(200);
  });
});
