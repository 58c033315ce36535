import { describe, expect, it } from "vitest";
import { parseIdentityCsv } from "../../src/admin/identity-csv";
import { ApiError } from "../../src/errors";

const KD1 = "1505084218764547201";
const KD2 = "1505084218764547202";

/** The ApiError a parse throws (the test fails if it does not throw one). */
function refusal(text: string): ApiError {
  try {
    parseIdentityCsv(text);
  } catch (err) {
    if (err instanceof ApiError) return err;
    throw err;
  }
  throw new Error("expected the CSV to be refused");
}

describe("parseIdentityCsv", () => {
  it("reads a plain file with the documented header", () => {
    expect(parseIdentityCsv(`email,hrId,koodriveUserId,name\na@example.com,E-1,${KD1},Ann\n`)).toEqual({
      identities: [{ email: "a@example.com", hrId: "E-1", koodriveUserId: KD1, name: "Ann" }],
      rows: [2],
    });
  });

  it("keeps a comma, a doubled quote and a line break inside a quoted field", () => {
    const text = [
      "name,email,koodriveUserId",
      `"Doe, Jane",jane@example.com,${KD1}`,
      `"O""Brien, ""Pat""",pat@example.com,${KD2}`,
      `"Two\nLines",two@example.com,${KD1}`,
    ].join("\n");
    const { identities, rows } = parseIdentityCsv(text);
    expect(identities.map((i) => i.name)).toEqual(["Doe, Jane", 'O"Brien, "Pat"', "Two\nLines"]);
    expect(identities.map((i) => i.email)).toEqual([
      "jane@example.com",
      "pat@example.com",
      "two@example.com",
    ]);
    expect(rows).toEqual([2, 3, 4]);
  });

  it("reads CRLF line ends, a UTF-8 byte order mark, and skips empty rows", () => {
    const text = `\uFEFFemail,koodriveUserId\r\n\r\na@example.com,${KD1}\r\n   \r\n,\r\nb@example.com,${KD2}\r\n\r\n`;
    const { identities, rows } = parseIdentityCsv(text);
    expect(identities).toEqual([
      { email: "a@example.com", koodriveUserId: KD1 },
      { email: "b@example.com", koodriveUserId: KD2 },
    ]);
    // Spreadsheet row numbers: the empty rows still count.
    expect(rows).toEqual([3, 6]);
  });

  it("matches header names ignoring case, spaces, _ and -, in any order, and ignores unknown columns", () => {
    const text = `Department,NAME,KooDrive User ID,HRID,E-Mail\nSales,Ann,${KD1},E-1,a@example.com\n`;
    expect(parseIdentityCsv(text).identities).toEqual([
      { name: "Ann", koodriveUserId: KD1, hrId: "E-1", email: "a@example.com" },
    ]);
    expect(parseIdentityCsv(`hr_id,koodriveuserid\nE-2,${KD2}\n`).identities).toEqual([
      { hrId: "E-2", koodriveUserId: KD2 },
    ]);
  });

  it("trims values and leaves empty cells out", () => {
    expect(
      parseIdentityCsv(`email,hrId,koodriveUserId,name\n  a@example.com , ,${KD1},\n`).identities,
    ).toEqual([{ email: "a@example.com", koodriveUserId: KD1 }]);
  });

  it("reports an unclosed quote as 422 naming the row and the line", () => {
    const err = refusal(
      `email,koodriveUserId,name\na@example.com,${KD1},Ann\nb@example.com,${KD2},"Doe, Jane\n`,
    );
    expect(err.status).toBe(422);
    expect(err.code).toBe("invalid_body");
    expect(err.details).toEqual([
      { path: "row 3", message: expect.stringContaining("never closed (line 3)") },
    ]);
  });

  it("reports text after a closing quote as 422 naming the row", () => {
    const err = refusal(`email,koodriveUserId,name\na@example.com,${KD1},"Doe" Jane\n`);
    expect(err.status).toBe(422);
    expect(err.details?.[0]?.path).toBe("row 2");
  });

  it("refuses a row with more fields than the header (an unquoted comma)", () => {
    const err = refusal(`email,koodriveUserId,name\na@example.com,${KD1},Doe, Jane\n`);
    expect(err.details).toEqual([{ path: "row 2", message: expect.stringContaining("4 fields") }]);
  });

  it("refuses a header without koodriveUserId or without email and hrId, or with a column twice", () => {
    expect(refusal("email,name\na@example.com,Ann\n").details?.map((d) => d.message)).toEqual([
      "the header has no koodriveUserId column",
    ]);
    expect(refusal(`name,koodriveUserId\nAnn,${KD1}\n`).details?.map((d) => d.message)).toEqual([
      "the header needs an email or an hrId column",
    ]);
    expect(refusal(`email,Email,koodriveUserId\na@x.io,b@x.io,${KD1}\n`).details?.[0]?.message).toBe(
      "column email appears twice",
    );
  });

  it("hints at commas when the header looks separated by semicolons", () => {
    const err = refusal(`email;koodriveUserId\na@example.com;${KD1}\n`);
    expect(err.details?.[0]?.message).toContain("separate columns with commas");
  });

  it("refuses an empty file or one with only a byte order mark and blank lines", () => {
    expect(refusal("").status).toBe(422);
    expect(refusal("\uFEFF\r\n\r\n").message).toBe("the CSV is empty");
  });

  it("reads a header-only file as no identities (the route then refuses an empty load)", () => {
    expect(parseIdentityCsv("email,koodriveUserId\r\n")).toEqual({ identities: [], rows: [] });
  });
});
