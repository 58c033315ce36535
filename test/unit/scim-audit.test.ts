import { describe, expect, it } from "vitest";
import { AuditRecord } from "../../src/audit/schema";
import { changeRecord, MAX_CHANGED_NAMES } from "../../src/sources/scim/audit";
import { attributesFrom, type UserAttributes, UserInput } from "../../src/sources/scim/schema";

const AT = "2026-11-20T10:00:00.000Z";
const dana: UserAttributes = {
  userName: "dana@example.com",
  active: true,
  externalId: "00u1",
  title: "AE",
  name: { givenName: "Dana", familyName: "Leaver" },
};
const record = (before: UserAttributes | null, after: UserAttributes | null) =>
  changeRecord({ method: "PATCH", id: "dir-1", before, after, at: AT, requestId: "req-1" });

describe("changeRecord: one scim.user record per state change", () => {
  it("a write that changed nothing records nothing (a repeated request); key order is no change", () => {
    expect(record(dana, { ...dana })).toBeNull();
    expect(record(dana, { ...dana, name: { familyName: "Leaver", givenName: "Dana" } })).toBeNull();
  });

  it("a create names the identifiers after; a delete names them before; both are valid audit records", () => {
    const created = changeRecord({ method: "POST", id: "dir-1", before: null, after: dana, at: AT });
    expect(created).toMatchObject({
      type: "scim.user",
      actor: "source:scim",
      source: "scim",
      status: "created",
      reason: "SCIM POST",
      subject: { hrId: "00u1", email: "dana@example.com", name: "Dana Leaver" },
      details: {
        scimId: "dir-1",
        changed: "active,externalId,name,title,userName",
        "after.userName": "dana@example.com",
        "after.externalId": "00u1",
        "after.active": true,
        "after.email": "dana@example.com",
      },
    });
    expect(created).not.toHaveProperty("requestId");
    const deleted = changeRecord({ method: "DELETE", id: "dir-1", before: dana, after: null, at: AT });
    expect(deleted?.status).toBe("deleted");
    expect(Object.keys(deleted?.details ?? {}).filter((k) => k.startsWith("after."))).toEqual([]);
    for (const r of [created, deleted]) expect(AuditRecord.safeParse({ ...r, id: "x" }).success).toBe(true);
  });

  it("deactivated / reactivated / updated, with before and after of what changed only", () => {
    const off = record(dana, { ...dana, active: false });
    expect(off?.status).toBe("deactivated");
    expect(off?.details).toEqual({
      scimId: "dir-1",
      changed: "active",
      "before.active": true,
      "after.active": false,
    });
    expect(record({ ...dana, active: false }, dana)?.status).toBe("reactivated");
    const renamed = record(dana, { ...dana, userName: "d.l@example.com", externalId: null });
    expect(renamed?.status).toBe("updated");
    expect(renamed?.details).toMatchObject({
      changed: "externalId,userName",
      "before.userName": "dana@example.com",
      "after.userName": "d.l@example.com",
      "before.externalId": "00u1",
      "after.externalId": null,
      "before.email": "dana@example.com",
      "after.email": "d.l@example.com",
    });
  });

  it("never copies other attribute values, only their names", () => {
    const r = record(dana, { ...dana, title: "Secret project lead", phoneNumbers: [{ value: "+1 555" }] });
    expect(r?.details?.changed).toBe("phoneNumbers,title");
    expect(JSON.stringify(r)).not.toContain("Secret project");
    expect(JSON.stringify(r)).not.toContain("555");
  });

  it(`lists at most ${MAX_CHANGED_NAMES} changed names, and says how many there were`, () => {
    const many = Object.fromEntries(
      Array.from({ length: 80 }, (_, i) => [`x${String(i).padStart(2, "0")}`, i]),
    );
    const r = record(dana, { ...dana, ...many });
    expect(String(r?.details?.changed).split(",")).toHaveLength(MAX_CHANGED_NAMES);
    expect(r?.details?.changedCount).toBe(80);
  });
});

describe("attributesFrom: a POST/PUT body as stored", () => {
  it("drops the password in any case and at any depth, and the server's id/meta/schemas", () => {
    const input = UserInput.parse({
      userName: "dana@example.com",
      password: "p1",
      PassWord: "p2",
      "urn:example:ext:1.0:User": { password: "p3", dept: "Sales" },
      emails: [{ value: "dana@example.com", password: "p4" }],
      id: "mine",
      meta: {},
      schemas: ["x"],
    });
    const out = attributesFrom(input);
    expect(JSON.stringify(out)).not.toMatch(/p[1-4]"|password/i);
    expect(out).toEqual({
      userName: "dana@example.com",
      active: true,
      "urn:example:ext:1.0:User": { dept: "Sales" },
      emails: [{ value: "dana@example.com" }],
    });
  });

  it("a PUT without active keeps the current value: it never reactivates", () => {
    expect(attributesFrom(UserInput.parse({ userName: "d" }), false).active).toBe(false);
    expect(attributesFrom(UserInput.parse({ userName: "d", active: "True" }), false).active).toBe(true);
  });
});
