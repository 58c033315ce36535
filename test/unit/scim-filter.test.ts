import { describe, expect, it } from "vitest";
import { ScimError } from "../../src/sources/scim/errors";
import { parseFilter } from "../../src/sources/scim/filter";
import { foldUserName } from "../../src/sources/scim/schema";

describe("parseFilter: the one filter IdPs send (RFC 7644 3.4.2.2)", () => {
  it("no filter, or a blank one, is everyone", () => {
    expect(parseFilter(undefined)).toBeNull();
    expect(parseFilter("  ")).toBeNull();
  });

  it("Entra's test connection and Okta's lookups: attr eq \"value\", attribute name in any case", () => {
    expect(parseFilter('userName eq "a1b2c3"')).toEqual({ attr: "userName", value: "a1b2c3" });
    expect(parseFilter('USERNAME eq "Dana@Example.com"')).toEqual({
      attr: "userName",
      value: "Dana@Example.com",
    });
    expect(parseFilter(' externalId  EQ "00u1" ')).toEqual({ attr: "externalId", value: "00u1" });
    expect(parseFilter('id eq "x"')).toEqual({ attr: "id", value: "x" });
  });

  it('unescapes a JSON string value (\\" and \\\\)', () => {
    expect(parseFilter('userName eq "a\\"b\\\\c"')).toEqual({ attr: "userName", value: 'a"b\\c' });
  });

  it.each([
    'displayName co "Dana"',
    'userName sw "d"',
    'userName eq "a" and active eq true',
    "userName eq dana",
    'userName eq "unterminated',
    'emails[type eq "work"].value eq "x"',
  ])("refuses %s with 400 invalidFilter", (filter) => {
    try {
      parseFilter(filter);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ScimError);
      expect((err as ScimError).status).toBe(400);
      expect((err as ScimError).scimType).toBe("invalidFilter");
    }
  });
});

describe("foldUserName: what userName uniqueness and `userName eq` compare (RFC 7643 4.1.1 caseExact false)", () => {
  it("folds Unicode case, not only ASCII", () => {
    expect(foldUserName("ÄNNE@EXÄMPLE.DE")).toBe("änne@exämple.de");
    expect(foldUserName("ΣΩΚΡΆΤΗΣ")).toBe(foldUserName("σωκράτης"));
    expect(foldUserName("ĲSSEL")).toBe("ĳssel");
  });

  it("treats canonically equivalent forms as one (NFC): a decomposed Ä is Ä", () => {
    expect(foldUserName("A\u0308nne")).toBe(foldUserName("\u00c4nne"));
    expect(foldUserName("a\u0308nne")).toBe("\u00e4nne");
  });

  it("maps full-width forms to their ASCII letters (RFC 8265 width mapping)", () => {
    expect(foldUserName("ＤＡＮＡ@example.com")).toBe("dana@example.com");
  });

  it("keeps ß and SS apart, and different letters different", () => {
    expect(foldUserName("STRASSE")).not.toBe(foldUserName("straße"));
    expect(foldUserName("anne")).not.toBe(foldUserName("änne"));
  });
});
