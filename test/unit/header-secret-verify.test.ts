/** The header-secret verifiers (Okta Event Hooks, SCIM bearer tokens, the admin token): pure, no body. */
import { describe, expect, it } from "vitest";
import { verifyAdminToken } from "../../src/admin/verify";
import { verifyOktaSecret } from "../../src/sources/okta/verify";
import { verifyScimBearer } from "../../src/sources/scim/verify";

const NO_BODY = new Uint8Array(0);
const h = (entries: Record<string, string>) => new Headers(entries);

describe("Okta Event Hooks: the configured header carries one of the secrets", () => {
  const secrets = {
    header: "x-okta-secret",
    values: ["okta-secret-0123456789", "Bearer rotated-0123456789"],
  };
  it("accepts either secret in the configured header, verbatim", async () => {
    expect(
      await verifyOktaSecret(NO_BODY, h({ "x-okta-secret": "okta-secret-0123456789" }), secrets, 0),
    ).toEqual({
      ok: true,
    });
    expect(
      await verifyOktaSecret(NO_BODY, h({ "x-okta-secret": "Bearer rotated-0123456789" }), secrets, 0),
    ).toEqual({ ok: true });
  });
  it("refuses a missing header, the secret in another header, or a near miss", async () => {
    expect(await verifyOktaSecret(NO_BODY, h({}), secrets, 0)).toEqual({
      ok: false,
      reason: "missing_secret",
    });
    expect(
      await verifyOktaSecret(NO_BODY, h({ authorization: "okta-secret-0123456789" }), secrets, 0),
    ).toEqual({ ok: false, reason: "missing_secret" });
    expect(
      await verifyOktaSecret(NO_BODY, h({ "x-okta-secret": "okta-secret-012345678" }), secrets, 0),
    ).toEqual({
      ok: false,
      reason: "wrong_secret",
    });
  });
});

describe("SCIM: Authorization: Bearer <token>", () => {
  const tokens = ["scim-token-0123456789abcdef", "scim-rotated-fedcba9876543210"];
  it("accepts either token, the scheme in any case", async () => {
    for (const value of ["Bearer scim-token-0123456789abcdef", "bearer  scim-rotated-fedcba9876543210 "]) {
      expect(await verifyScimBearer(NO_BODY, h({ authorization: value }), tokens, 0)).toEqual({ ok: true });
    }
  });
  it("refuses a missing header, another scheme or a wrong token", async () => {
    expect(await verifyScimBearer(NO_BODY, h({}), tokens, 0)).toEqual({ ok: false, reason: "missing_token" });
    for (const value of ["Basic scim-token-0123456789abcdef", "Bearer nope", "scim-token-0123456789abcdef"]) {
      expect(await verifyScimBearer(NO_BODY, h({ authorization: value }), tokens, 0)).toEqual({
        ok: false,
        reason: "wrong_token",
      });
    }
  });
});

describe("Admin API: Authorization: Bearer <ADMIN_TOKEN>", () => {
  const token = "admin-token-0123456789";
  it("accepts the token and nothing near it", async () => {
    expect(await verifyAdminToken(NO_BODY, h({ authorization: `Bearer ${token}` }), token, 0)).toEqual({
      ok: true,
    });
    expect(await verifyAdminToken(NO_BODY, h({}), token, 0)).toEqual({
      ok: false,
      reason: "missing admin token",
    });
    expect(await verifyAdminToken(NO_BODY, h({ authorization: token }), token, 0)).toEqual({
      ok: false,
      reason: "missing admin token",
    });
    expect(await verifyAdminToken(NO_BODY, h({ authorization: `Bearer ${token}x` }), token, 0)).toEqual({
      ok: false,
      reason: "invalid admin token",
    });
  });
});
