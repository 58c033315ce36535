import { describe, expect, it } from "vitest";
import { ScimError } from "../../src/sources/scim/errors";
import { applyPatch } from "../../src/sources/scim/patch";
import type { PatchOperation, UserAttributes } from "../../src/sources/scim/schema";

/** The PATCH engine alone (RFC 7644 3.5.2), with the request shapes Okta and Entra ID document. */

const CORE = "urn:ietf:params:scim:schemas:core:2.0:User";
const ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

const dana = (): UserAttributes => ({
  userName: "dana@example.com",
  active: true,
  externalId: "00u1",
  name: { givenName: "Dana", familyName: "Leaver" },
  emails: [{ value: "dana@example.com", type: "work", primary: true }],
});

function refusal(ops: PatchOperation[]): string | undefined {
  try {
    applyPatch(dana(), ops);
  } catch (err) {
    if (err instanceof ScimError) return err.scimType;
    throw err;
  }
  throw new Error("expected a ScimError");
}

describe("applyPatch: deactivation as each IdP sends it", () => {
  it("Okta: replace without a path merges {active: false}", () => {
    expect(applyPatch(dana(), [{ op: "replace", value: { active: false } }]).active).toBe(false);
  });

  it('Entra ID: "Replace" with path active and the string "False"', () => {
    expect(applyPatch(dana(), [{ op: "Replace", path: "active", value: "False" }]).active).toBe(false);
  });

  it("the core schema's URN, as a path prefix or as a key of the value", () => {
    expect(applyPatch(dana(), [{ op: "replace", path: `${CORE}:active`, value: false }]).active).toBe(false);
    expect(applyPatch(dana(), [{ op: "replace", value: { [CORE]: { active: false } } }]).active).toBe(false);
  });

  it("leaves the input untouched (works on a copy)", () => {
    const user = dana();
    applyPatch(user, [{ op: "replace", value: { active: false, title: "x" } }]);
    expect(user).toEqual(dana());
  });
});

describe("applyPatch: attribute paths", () => {
  it("sets a sub-attribute and keeps its siblings", () => {
    const out = applyPatch(dana(), [{ op: "replace", path: "name.givenName", value: "Danielle" }]);
    expect(out.name).toEqual({ givenName: "Danielle", familyName: "Leaver" });
  });

  it('adds to and replaces inside a multi-valued attribute by `[type eq "x"]`, type in any case', () => {
    const out = applyPatch(dana(), [
      { op: "add", path: 'emails[type eq "home"].value', value: "dana@home.example" },
      { op: "replace", path: 'emails[type eq "WORK"].display', value: "Work" },
    ]);
    expect(out.emails).toEqual([
      { value: "dana@example.com", type: "work", primary: true, display: "Work" },
      { type: "home", value: "dana@home.example" },
    ]);
  });

  it("removes a filtered entry", () => {
    const out = applyPatch(dana(), [{ op: "remove", path: 'emails[type eq "work"]' }]);
    expect(out.emails).toEqual([]);
  });

  it("add appends to a list only what is not there (RFC 7644 3.5.2.1): a retried PATCH adds nothing twice", () => {
    const ops: PatchOperation[] = [{ op: "add", path: "emails", value: [{ value: "b@example.com" }] }];
    const once = applyPatch(dana(), ops);
    expect(applyPatch(once, ops).emails).toEqual(once.emails);
    expect(once.emails).toHaveLength(2);
  });

  it("keeps extension attributes under their schema URN, by path or as a value's key", () => {
    const out = applyPatch(dana(), [
      { op: "Replace", path: `${ENTERPRISE}:department`, value: "Sales" },
      { op: "Add", path: `${ENTERPRISE}:manager.value`, value: "mgr-42" },
      { op: "replace", value: { [ENTERPRISE]: { costCenter: "CC-1" } } },
    ]);
    expect(out[ENTERPRISE]).toEqual({
      department: "Sales",
      manager: { value: "mgr-42" },
      costCenter: "CC-1",
    });
  });

  it("stores the attributes it reads in their canonical case", () => {
    const out = applyPatch(dana(), [{ op: "replace", value: { UserName: "d@example.com", ACTIVE: "true" } }]);
    expect(out).toMatchObject({ userName: "d@example.com", active: true });
    expect(out).not.toHaveProperty("UserName");
  });
});

describe("applyPatch never keeps a password (RFC 7643 4.1.1)", () => {
  it.each<[string, PatchOperation]>([
    ["path password", { op: "replace", path: "password", value: "s3cret" }],
    ["path Password", { op: "add", path: "Password", value: "s3cret" }],
    ["the core URN's password", { op: "replace", path: `${CORE}:password`, value: "s3cret" }],
    ["a value holding PASSWORD", { op: "replace", value: { PASSWORD: "s3cret" } }],
    [
      "a value holding the core schema's password",
      { op: "replace", value: { [CORE]: { password: "s3cret" } } },
    ],
    ["an extension's password", { op: "add", path: "urn:example:ext:1.0:User:password", value: "s3cret" }],
  ])("drops %s and changes nothing else", (_name, op) => {
    const out = applyPatch(dana(), [op]);
    expect(JSON.stringify(out)).not.toContain("s3cret");
    expect(JSON.stringify(out).toLowerCase()).not.toContain("password");
  });
});

describe("applyPatch refuses what it cannot do with a scimType (RFC 7644 3.12)", () => {
  it.each<[string, PatchOperation, string]>([
    ["an unknown op", { op: "move", path: "active", value: false }, "invalidSyntax"],
    ["a filter other than type eq", { op: "replace", path: 'emails[value sw "x"]', value: 1 }, "invalidPath"],
    ["an active that is no boolean", { op: "replace", path: "active", value: "maybe" }, "invalidValue"],
    ["changing the id", { op: "replace", path: "id", value: "mine" }, "mutability"],
    ["removing active", { op: "remove", path: "active" }, "mutability"],
    ["remove without a path", { op: "remove" }, "noTarget"],
    ["a path-less op whose value is no object", { op: "replace", value: false }, "invalidValue"],
    ["an extension that is no object", { op: "replace", value: { [ENTERPRISE]: "x" } }, "invalidValue"],
    ["a userName removed", { op: "remove", path: "userName" }, "invalidValue"],
  ])("%s", (_name, op, scimType) => {
    expect(refusal([op])).toBe(scimType);
  });
});
