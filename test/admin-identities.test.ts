import { describe, expect, it } from "vitest";
import { MAX_AUDITED_IDENTITY_CHANGES } from "../src/admin/identities";
import { adminCall, auditOf, expectError } from "./helpers/admin";
import { admin } from "./helpers/worker";

const KD1 = "1505084218764548801";
const KD2 = "1505084218764548802";
const KD3 = "1505084218764548803";

/** A unique e-mail domain per test: KV outlives a test within this file. */
let n = 0;
const domain = () => `t${Date.now().toString(36)}${n++}.example.com`;

const putCsv = (csv: string) =>
  adminCall("/identities", {
    method: "PUT",
    body: csv,
    headers: { "content-type": "text/csv; charset=utf-8" },
  });

async function entry(key: string) {
  const res = await admin(`/identities/${encodeURIComponent(key)}`);
  return {
    status: res.status,
    body: res.status === 200 ? ((await res.json()) as Record<string, string>) : null,
  };
}

describe("PUT /identities with an HR system's CSV export", () => {
  it("stores every row of an export with a BOM, CRLF, quoted commas and quotes, and an extra column", async () => {
    const d = domain();
    const csv =
      "\uFEFF" +
      [
        "HRID,Name,Email,Department,KooDrive User ID",
        `E-8001,"Doe, Jane",jane.doe@${d},"Sales, EMEA",${KD1}`,
        `E-8002,"O""Brien, Pat ""PJ""",Pat.OBrien@${d},Finance,${KD2}`,
        "",
        `E-8003,"Multi`,
        `Line",ml@${d},"R&D",${KD3}`,
        "",
      ].join("\r\n");
    const { res } = await putCsv(csv);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ stored: 3, keys: 6, added: 6 });

    expect((await entry(`jane.doe@${d}`)).body).toMatchObject({
      koodriveUserId: KD1,
      name: "Doe, Jane",
      hrId: "E-8001",
      email: `jane.doe@${d}`,
    });
    expect((await entry(`email:pat.obrien@${d}`)).body).toMatchObject({
      koodriveUserId: KD2,
      name: 'O"Brien, Pat "PJ"',
    });
    expect((await entry("hr:E-8003")).body).toMatchObject({ koodriveUserId: KD3, name: "Multi\r\nLine" });
    // The unknown column is not stored anywhere.
    expect(JSON.stringify((await entry("hr:E-8001")).body)).not.toContain("EMEA");
  });

  it("refuses a file with an unclosed quote as 422 naming the row, and stores none of it", async () => {
    const d = domain();
    const { res } = await putCsv(
      `email,koodriveUserId,name\r\nok@${d},${KD1},Ok\r\nbad@${d},${KD2},"Doe, Jane\r\n`,
    );
    const error = await expectError(res, 422, "invalid_body");
    expect(error.details).toEqual([{ path: "row 3", message: expect.stringContaining("never closed") }]);
    expect((await entry(`ok@${d}`)).status).toBe(404);
  });

  it("names the row and the column of an invalid value", async () => {
    const d = domain();
    const { res } = await putCsv(`email,koodriveUserId\r\n\r\nok@${d},${KD1}\r\nbad@${d},12345\r\n`);
    const error = await expectError(res, 422, "invalid_body");
    expect(error.details).toEqual([{ path: "row 4.koodriveUserId", message: expect.any(String) }]);
    expect((await entry(`ok@${d}`)).status).toBe(404);
  });

  it("refuses one key mapped to two users in one load", async () => {
    const d = domain();
    const { res } = await putCsv(`email,koodriveUserId\r\nsame@${d},${KD1}\r\nSAME@${d},${KD2}\r\n`);
    const error = await expectError(res, 422, "invalid_body");
    expect(error.details?.[0]).toMatchObject({ path: "row 3", message: expect.stringContaining("row 2") });
    expect((await entry(`same@${d}`)).status).toBe(404);
  });
});

describe("the audit of PUT /identities names the keys that changed", () => {
  it("records added keys, a remapped key with its old and new KooDrive id, and counts the unchanged", async () => {
    const d = domain();
    const first = await adminCall("/identities", {
      method: "PUT",
      body: [
        { email: `a@${d}`, hrId: `H-${d}`, koodriveUserId: KD1, name: "Ann" },
        { email: `b@${d}`, koodriveUserId: KD2 },
      ],
      headers: { "x-audit-actor": "hr-sync" },
    });
    expect(first.res.status).toBe(200);
    const [loaded] = await auditOf(first.requestId);
    expect(loaded).toMatchObject({
      type: "admin.identities",
      actor: "break-glass",
      verifiedBy: "break-glass",
      details: { entries: 2, keys: 3, added: 3, remapped: 0, updated: 0, unchanged: 0, unlisted: 0 },
    });
    expect(JSON.parse(String(loaded?.details?.changes))).toEqual([
      { key: `email:a@${d}`, kind: "added", to: KD1 },
      { key: `hr:H-${d}`, kind: "added", to: KD1 },
      { key: `email:b@${d}`, kind: "added", to: KD2 },
    ]);

    // b@ now points to another person; a@ only gets a new name; the HR id stays as it was.
    const second = await adminCall("/identities", {
      method: "PUT",
      body: [
        { email: `a@${d}`, koodriveUserId: KD1, name: "Ann B." },
        { email: `b@${d}`, koodriveUserId: KD3 },
        { hrId: `H-${d}`, koodriveUserId: KD1 },
      ],
    });
    expect(second.res.status).toBe(200);
    expect(await second.res.json()).toMatchObject({
      stored: 3,
      keys: 3,
      remapped: 1,
      updated: 2,
      unchanged: 0,
    });
    const [changed] = await auditOf(second.requestId);
    expect(changed?.details).toMatchObject({ remapped: 1, updated: 2, added: 0, unchanged: 0, unlisted: 0 });
    expect(JSON.parse(String(changed?.details?.changes))).toEqual([
      { key: `email:b@${d}`, kind: "remapped", from: KD2, to: KD3 },
      { key: `email:a@${d}`, kind: "updated", from: KD1, to: KD1 },
      { key: `hr:H-${d}`, kind: "updated", from: KD1, to: KD1 },
    ]);

    // The same load again changes nothing.
    const third = await adminCall("/identities", {
      method: "PUT",
      body: [
        { email: `a@${d}`, koodriveUserId: KD1, name: "Ann B." },
        { email: `b@${d}`, koodriveUserId: KD3 },
      ],
    });
    expect(await third.res.json()).toMatchObject({
      keys: 2,
      added: 0,
      remapped: 0,
      updated: 0,
      unchanged: 2,
    });
    const [same] = await auditOf(third.requestId);
    expect(same?.details).toMatchObject({ unchanged: 2, changes: "[]" });
  });

  it(`lists at most ${MAX_AUDITED_IDENTITY_CHANGES} keys and counts the rest`, async () => {
    const d = domain();
    const rows = Array.from({ length: 450 }, (_, i) => `u${i}@${d},${KD1}`);
    const { res, requestId } = await putCsv(["email,koodriveUserId", ...rows].join("\r\n"));
    expect(res.status).toBe(200);
    const [record] = await auditOf(requestId);
    expect(record?.details).toMatchObject({
      entries: 450,
      keys: 450,
      added: 450,
      unlisted: 450 - MAX_AUDITED_IDENTITY_CHANGES,
    });
    expect(JSON.parse(String(record?.details?.changes))).toHaveLength(MAX_AUDITED_IDENTITY_CHANGES);
    // The record itself stays small.
    expect(JSON.stringify(record).length).toBeLessThan(16_000);
  });
});
