import { describe, expect, it } from "vitest";
import type { UserAttributes } from "../../src/sources/scim/schema";
import { subjectOf } from "../../src/sources/scim/subject";

const user = (extra: Record<string, unknown>): UserAttributes => ({
  userName: "u-123",
  active: true,
  ...extra,
});

describe("subjectOf: the person a SCIM user is, for a run", () => {
  it("the IdP's externalId is the person's id; without one, the directory's id", () => {
    expect(subjectOf("dir-1", user({ externalId: " 00u1 " })).hrId).toBe("00u1");
    expect(subjectOf("dir-1", user({ externalId: "  " })).hrId).toBe("dir-1");
    expect(subjectOf("dir-1", user({})).hrId).toBe("dir-1");
  });

  it("the e-mail: the primary one (boolean or Entra's string), else the work one, else the first", () => {
    const emails = [
      { value: "first@example.com", type: "other" },
      { value: "work@example.com", type: "work" },
      { value: "Primary@Example.com", type: "home", primary: "True" },
    ];
    expect(subjectOf("i", user({ emails })).email).toBe("primary@example.com");
    expect(subjectOf("i", user({ emails: emails.slice(0, 2) })).email).toBe("work@example.com");
    expect(subjectOf("i", user({ emails: emails.slice(0, 1) })).email).toBe("first@example.com");
  });

  it("falls back to a userName that is an e-mail; none when neither is one", () => {
    expect(subjectOf("i", user({ userName: "Dana@Example.com" })).email).toBe("dana@example.com");
    expect(subjectOf("i", user({ emails: [{ value: "not an address" }] }))).not.toHaveProperty("email");
  });

  it("the name: formatted, else displayName, else given + family; capped at 200 characters", () => {
    expect(subjectOf("i", user({ name: { formatted: "Dana Leaver", givenName: "X" } })).name).toBe(
      "Dana Leaver",
    );
    expect(subjectOf("i", user({ displayName: " Dana L. ", name: { givenName: "X" } })).name).toBe("Dana L.");
    expect(subjectOf("i", user({ name: { givenName: "Dana", familyName: "Leaver" } })).name).toBe(
      "Dana Leaver",
    );
    expect(subjectOf("i", user({}))).not.toHaveProperty("name");
    expect(subjectOf("i", user({ displayName: "x".repeat(300) })).name).toHaveLength(200);
  });
});
