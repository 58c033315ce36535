import { describe, expect, it } from "vitest";
import {
  authorizationHeader,
  canonicalQuery,
  canonicalUri,
  formatXDate,
  parseAuthorization,
  parseXDate,
  sha256Hex,
  sign,
  stringToSign,
  verifySignature,
} from "../src/koodrive/signer";

const APP_ID = "8d3c0f6a5b2e4c1d9a7f3e6b0c2d4a6f8e1b3c5d7f9a0b2c4d6e8f1a3b5c7d9e";
const SECRET = "example-app-secret-do-not-use";
const USER = "1505084218764547200";

describe("app-auth signer: the worked examples of koodrive-api.md", () => {
  it("signs the GET list example to the known canonical request, string to sign and header", async () => {
    const s = await sign(
      {
        method: "GET",
        url: "https://intl.myhuaweicloud-koodrive.com/koodrive/ose/v1/share?pageSize=100&pageCursor=0",
        headers: { "x-date": "20261122T101500Z", "x-user-id": USER },
      },
      SECRET,
    );
    expect(s.canonicalRequest).toBe(
      [
        "GET",
        "/koodrive/ose/v1/share/",
        "pageCursor=0&pageSize=100",
        "host:intl.myhuaweicloud-koodrive.com\nx-date:20261122T101500Z\nx-user-id:1505084218764547200\n",
        "host;x-date;x-user-id",
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
      ].join("\n"),
    );
    expect(s.stringToSign).toBe(
      "HMAC-SHA256\nd2534900d032a07c8638da8eb142fc3e294381d1a1172e7bad592eaf20ee6a17",
    );
    expect(authorizationHeader(APP_ID, s)).toBe(
      `HMAC-SHA256 AppId=${APP_ID},SignedHeaders=host;x-date;x-user-id,Signature=031fef8ade2a3751f2474ac547874ed249f500a128ce3d96540b8b6ba996b78d`,
    );
  });

  it("signs the POST cancel example, hashing the exact body bytes", async () => {
    const body = '{"shareIds":["1689759841444195840","1689759841444195841"]}';
    expect(await sha256Hex(body)).toBe("68fc625980513b23b6820a6db789c3f00a38770dc76066aa88b119fbdf555d15");
    const s = await sign(
      {
        method: "POST",
        url: "https://intl.myhuaweicloud-koodrive.com/koodrive/ose/v1/share/cancel",
        headers: { "x-date": "20261122T101501Z", "x-user-id": USER },
        body,
      },
      SECRET,
    );
    expect(s.stringToSign).toBe(
      "HMAC-SHA256\n4e9190a940425513aedf95084d50e4622f0f65a45663a986854cc7d53862bebe",
    );
    expect(s.signature).toBe("680e8f54a0110af845d31e2910cbf97daceb2f5c03ef4f90c98dff15a5dd2490");
  });
});

describe("app-auth signer: edge cases", () => {
  it("percent-encodes query names and values per RFC 3986, space as %20, keeping unreserved characters", () => {
    expect(canonicalQuery("?displayName=Q3 plan&x=a~b-c_d.e")).toBe("displayName=Q3%20plan&x=a~b-c_d.e");
    expect(canonicalQuery("?name=%E6%96%87%E4%BB%B6*!'()")).toBe("name=%E6%96%87%E4%BB%B6%2A%21%27%28%29");
    expect(canonicalQuery("?q=a+b")).toBe("q=a%20b");
  });

  it("sorts parameters by name in character-code order and keeps = for empty values", () => {
    expect(canonicalQuery("?b=2&a=1&B=3&empty=")).toBe("B=3&a=1&b=2&empty=");
    expect(canonicalQuery("?flag")).toBe("flag=");
  });

  it("gives an empty string for no query", () => {
    expect(canonicalQuery("")).toBe("");
    expect(canonicalQuery("?")).toBe("");
  });

  it("appends a trailing slash to the path and encodes each segment", () => {
    expect(canonicalUri("/koodrive/ose/v1/share")).toBe("/koodrive/ose/v1/share/");
    expect(canonicalUri("/a/")).toBe("/a/");
    expect(canonicalUri("/files/my%20doc")).toBe("/files/my%20doc/");
  });

  it("signs the URL's host with its port", async () => {
    const parts = await stringToSign({
      method: "get",
      url: "http://127.0.0.1:8788/koodrive/ose/v1/share",
      headers: { "x-date": "20261122T101500Z", "x-user-id": USER },
    });
    expect(parts.canonicalRequest).toContain("host:127.0.0.1:8788\n");
    expect(parts.canonicalRequest.startsWith("GET\n")).toBe(true);
  });

  it("changes the signature when one byte of the body changes, and verifies only the right one", async () => {
    const input = {
      method: "POST",
      url: "https://intl.myhuaweicloud-koodrive.com/koodrive/ose/v1/share/cancel",
      headers: { "x-date": "20261122T101501Z", "x-user-id": USER },
      body: '{"shareIds":["1"]}',
    };
    const a = await sign(input, SECRET);
    const b = await sign({ ...input, body: '{"shareIds":["2"]}' }, SECRET);
    expect(a.signature).not.toBe(b.signature);
    expect(await verifySignature(input, SECRET, a.signature)).toBe(true);
    expect(await verifySignature(input, SECRET, b.signature)).toBe(false);
    expect(await verifySignature(input, "other-secret", a.signature)).toBe(false);
    expect(await verifySignature(input, SECRET, "zz")).toBe(false);
  });

  it("parses only well-formed Authorization headers", () => {
    const ok = `HMAC-SHA256 AppId=${APP_ID},SignedHeaders=host;x-date;x-user-id,Signature=${"a".repeat(64)}`;
    expect(parseAuthorization(ok)).toEqual({
      appId: APP_ID,
      signedHeaders: ["host", "x-date", "x-user-id"],
      signature: "a".repeat(64),
    });
    expect(parseAuthorization(ok.replace(",SignedHeaders", ", SignedHeaders"))).toBeNull();
    expect(parseAuthorization(`Bearer ${"a".repeat(64)}`)).toBeNull();
    expect(parseAuthorization(undefined)).toBeNull();
  });

  it("formats and parses X-Date strictly", () => {
    expect(formatXDate(new Date("2026-11-22T10:15:00.999Z"))).toBe("20261122T101500Z");
    expect(parseXDate("20261122T101500Z")?.toISOString()).toBe("2026-11-22T10:15:00.000Z");
    expect(parseXDate("20261340T101500Z")).toBeNull();
    expect(parseXDate("2026-11-22T10:15:00Z")).toBeNull();
  });
});
