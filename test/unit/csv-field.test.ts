import { describe, expect, it } from "vitest";
import { csvField } from "../../src/admin/export";

/** What a spreadsheet or a naive reader sees as cells: the field split on every separator of any locale. */
const cells = (field: string) => field.split(/[,;\t\r\n]/).map((c) => c.replace(/^"|"$/g, ""));
const FORMULA_START = /^ *[=+\-@]/;

describe("csvField", () => {
  it.each([
    // [share name, exact CSV field]
    ["x;=1+1;y", `"x;'=1+1;y"`],
    ['=HYPERLINK("http://x")', `"'=HYPERLINK(""http://x"")"`],
    ["@SUM(1)", `"'@SUM(1)"`],
    ["\t=1", `"'\t'=1"`],
    ['a,b"c', `"a,b""c"`],
    ["-1", `"'-1"`],
    ["+1", `"'+1"`],
    ["a,=1", `"a,'=1"`],
    ["a\t+1", `"a\t'+1"`],
    ["a; -2+3", `"a;' -2+3"`],
    ["line\n=cmd|' /C calc'!A0", `"line\n'=cmd|' /C calc'!A0"`],
    ["\r=1", `"'\r'=1"`],
    ["\0x", `"'\0x"`],
  ])("neutralises %j as %j", (name, expected) => {
    expect(csvField(name)).toBe(expected);
  });

  it.each(["x;=1+1;y", '=HYPERLINK("http://x")', "@SUM(1)", "\t=1", "-1", "+1", "a, @b ;=c\t-d\r\n+e"])(
    "leaves no cell of %j starting with a formula trigger, however it is split",
    (name) => {
      for (const cell of cells(csvField(name))) expect(cell).not.toMatch(FORMULA_START);
    },
  );

  it("writes plain text, URLs and e-mail addresses unchanged", () => {
    expect(csvField("Budget 2026.xlsx")).toBe("Budget 2026.xlsx");
    expect(csvField("https://k.example/share/link?token=a-b=c")).toBe(
      "https://k.example/share/link?token=a-b=c",
    );
    expect(csvField("dana@example.com")).toBe("dana@example.com");
    expect(csvField("a - b")).toBe("a - b");
  });

  it("quotes a field holding a separator of any locale or a line break", () => {
    expect(csvField("Doe, Jane")).toBe('"Doe, Jane"');
    expect(csvField("a;b")).toBe('"a;b"');
    expect(csvField("a\tb")).toBe('"a\tb"');
    expect(csvField("a\r\nb")).toBe('"a\r\nb"');
  });

  it("writes numbers (our own typed columns) as they are, and nothing for null or undefined", () => {
    expect(csvField(-1)).toBe("-1");
    expect(csvField(3)).toBe("3");
    expect(csvField(null)).toBe("");
    expect(csvField(undefined)).toBe("");
  });
});
