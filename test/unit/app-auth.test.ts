/**
 * The simulator's own app-auth verifier (simulator/src/app-auth.ts) against the contract's known answers
 * (koodrive-api.md "Authentication: app authentication", worked examples) and its rejection rules. Pure: no
 * simulator, no Worker; the clock is passed in.
 */
import { describe, expect, it } from "vitest";
import {
  canonicalPath,
  canonicalQuery,
  canonicalRequest,
  percentDecode,
  percentEncode,
  sha256Hex,
  signAppAuth,
  stringToSign,
  verifyAppAuth,
} from "../../simulator/src/app-auth";

/** The worked examples' credentials and user [koodrive-api.md]. */
const KAT = {
  appId: "8d3c0f6a5b2e4c1d9a7f3e6b0c2d4a6f8e1b3c5d7f9a0b2c4d6e8f1a3b5c7d9e",
  appSecret: "example-app-secret-do-not-use",
};
const USER = "1505084218764547200";
const BASE = "https://intl.myhuaweicloud-koodrive.com/koodrive/ose/v1";
const GET_URL = `${BASE}/share?pageSize=100&pageCursor=0`;
const GET_AUTH = `HMAC-SHA256 AppId=${KAT.appId},SignedHeaders=host;x-date;x-user-id,Signature=031fef8ade2a3751f2474ac547874ed249f500a128ce3d96540b8b6ba996b78d`;
const POST_URL = `${BASE}/share/cancel`;
const POST_BODY = '{"shareIds":["1689759841444195840","1689759841444195841"]}';
const POST_AUTH = `HMAC-SHA256 AppId=${KAT.appId},SignedHeaders=host;x-date;x-user-id,Signature=680e8f54a0110af845d31e2910cbf97daceb2f5c03ef4f90c98dff15a5dd2490`;

const utf8 = (text: string) => new TextEncoder().encode(text);

interface Received {
  method?: string;
  url?: string;
  headers?: Record<string, string>;
  body?: string;
  now?: string;
  appId?: string;
}

/** Verifies the GET example (or a variation of it) as the simulator would receive it. */
function verify(r: Received = {}) {
  return verifyAppAuth({
    method: r.method ?? "GET",
    url: r.url ?? GET_URL,
    headers: new Headers(
      r.headers ?? { authorization: GET_AUTH, "x-date": "20261122T101500Z", "x-user-id": USER },
    ),
    body: utf8(r.body ?? ""),
    appId: r.appId ?? KAT.appId,
    appSecret: KAT.appSecret,
    now: new Date(r.now ?? "2026-11-22T10:20:00Z"),
  });
}

const GET_HEADERS = { authorization: GET_AUTH, "x-date": "20261122T101500Z", "x-user-id": USER };

describe("the contract's worked examples", () => {
  it("GET list: the canonical request, string to sign and Authorization match the contract", async () => {
    const signed = await signAppAuth(
      { method: "GET", url: GET_URL, userId: USER, date: new Date("2026-11-22T10:15:00Z") },
      KAT,
    );
    expect(signed.canonicalRequest).toBe(
      "GET\n/koodrive/ose/v1/share/\npageCursor=0&pageSize=100\n" +
        "host:intl.myhuaweicloud-koodrive.com\nx-date:20261122T101500Z\nx-user-id:1505084218764547200\n\n" +
        "host;x-date;x-user-id\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    );
    expect(signed.stringToSign).toBe(
      "HMAC-SHA256\nd2534900d032a07c8638da8eb142fc3e294381d1a1172e7bad592eaf20ee6a17",
    );
    expect(signed.headers).toEqual(GET_HEADERS);
    expect(await verify()).toEqual({ ok: true, userId: USER });
  });

  it("POST cancel: the body hash, string to sign and Authorization match the contract", async () => {
    expect(await sha256Hex(POST_BODY)).toBe(
      "68fc625980513b23b6820a6db789c3f00a38770dc76066aa88b119fbdf555d15",
    );
    const signed = await signAppAuth(
      {
        method: "POST",
        url: POST_URL,
        userId: USER,
        date: new Date("2026-11-22T10:15:01Z"),
        body: POST_BODY,
      },
      KAT,
    );
    expect(signed.stringToSign).toBe(
      "HMAC-SHA256\n4e9190a940425513aedf95084d50e4622f0f65a45663a986854cc7d53862bebe",
    );
    expect(signed.headers.authorization).toBe(POST_AUTH);
    const post = (body: string) =>
      verify({
        method: "POST",
        url: POST_URL,
        body,
        headers: { authorization: POST_AUTH, "x-date": "20261122T101501Z", "x-user-id": USER },
        now: "2026-11-22T10:15:02Z",
      });
    expect(await post(POST_BODY)).toEqual({ ok: true, userId: USER });
    // One byte more (a space after the comma) is another body.
    expect(await post(POST_BODY.replace(",", ", "))).toMatchObject({ ok: false, kind: "auth" });
  });

  it("builds the canonical request from its six parts, the headers part ending in a newline", async () => {
    const canonical = await canonicalRequest({
      method: "post",
      url: POST_URL,
      headers: [
        ["host", "intl.myhuaweicloud-koodrive.com"],
        ["x-date", " 20261122T101501Z "],
        ["x-user-id", USER],
      ],
      body: utf8(POST_BODY),
    });
    expect(canonical.split("\n")).toEqual([
      "POST",
      "/koodrive/ose/v1/share/cancel/",
      "",
      "host:intl.myhuaweicloud-koodrive.com",
      "x-date:20261122T101501Z",
      "x-user-id:1505084218764547200",
      "",
      "host;x-date;x-user-id",
      "68fc625980513b23b6820a6db789c3f00a38770dc76066aa88b119fbdf555d15",
    ]);
    expect(await stringToSign(canonical)).toBe(
      "HMAC-SHA256\n4e9190a940425513aedf95084d50e4622f0f65a45663a986854cc7d53862bebe",
    );
  });
});

describe("canonical path and query (koodrive-api.md step 1.2 and 1.3)", () => {
  it("percent-encodes UTF-8 bytes, keeping only A-Za-z0-9-_.~, upper-case hex", () => {
    expect(percentEncode("AZaz09-_.~")).toBe("AZaz09-_.~");
    expect(percentEncode(" +%=&/?#!*'()")).toBe("%20%2B%25%3D%26%2F%3F%23%21%2A%27%28%29");
    expect(percentEncode("Jörg 東京")).toBe("J%C3%B6rg%20%E6%9D%B1%E4%BA%AC");
    expect(percentEncode("\u{1F600}")).toBe("%F0%9F%98%80");
  });

  it("percent-decodes valid escapes only, leaving a stray % literal", () => {
    expect(percentDecode("J%c3%B6rg%20%E6%9D%B1%E4%BA%AC")).toBe("Jörg 東京");
    expect(percentDecode("100%")).toBe("100%");
    expect(percentDecode("a%zz%20b+c")).toBe("a%zz b+c");
  });

  it("encodes each path segment and appends a trailing slash", () => {
    expect(canonicalPath("/koodrive/ose/v1/share")).toBe("/koodrive/ose/v1/share/");
    expect(canonicalPath("/koodrive/ose/v1/share/")).toBe("/koodrive/ose/v1/share/");
    expect(canonicalPath("/f/J%C3%B6rg%20%E6%9D%B1%E4%BA%AC")).toBe("/f/J%C3%B6rg%20%E6%9D%B1%E4%BA%AC/");
    // `+` is a literal plus in a path; `~` is unreserved even when it arrives escaped.
    expect(canonicalPath("/f/a+b/%7Eme")).toBe("/f/a%2Bb/~me/");
    expect(canonicalPath("/f/100%25/100%/a%2Fb")).toBe("/f/100%25/100%25/a%2Fb/");
  });

  it("encodes, sorts by name in character-code order and keeps = for empty values", () => {
    expect(canonicalQuery("?pageSize=100&pageCursor=0")).toBe("pageCursor=0&pageSize=100");
    expect(canonicalQuery("?b=1&a=2&B=3&a=1")).toBe("B=3&a=1&a=2&b=1");
    expect(canonicalQuery("?empty=&flag")).toBe("empty=&flag=");
    // A form query: `+` is a space, `%2B` a plus; `~` is kept even when it arrives as %7E.
    expect(canonicalQuery("?q=a+b&r=a%2Bb&t=%7Ex~")).toBe("q=a%20b&r=a%2Bb&t=~x~");
    expect(canonicalQuery("?name=J%C3%B6rg&city=%E6%9D%B1%E4%BA%AC&pct=100%25")).toBe(
      "city=%E6%9D%B1%E4%BA%AC&name=J%C3%B6rg&pct=100%25",
    );
    // Sorted once encoded: `%C3%A9` (é) sorts before `z`.
    expect(canonicalQuery("?z=1&%C3%A9=2")).toBe("%C3%A9=2&z=1");
    expect(canonicalQuery("")).toBe("");
    expect(canonicalQuery("?")).toBe("");
  });
});

describe("what the verifier refuses", () => {
  it("a malformed or missing Authorization header", async () => {
    const sig = GET_AUTH.split("Signature=")[1] as string;
    for (const authorization of [
      undefined,
      `Bearer ${sig}`,
      GET_AUTH.replace("HMAC-SHA256 ", "HMAC-SHA256  "),
      GET_AUTH.replace(",SignedHeaders", ", SignedHeaders"),
      GET_AUTH.replace(sig, sig.toUpperCase()),
      GET_AUTH.replace(sig, sig.slice(1)),
      GET_AUTH.replace("HMAC-SHA256", "HMAC-SHA1"),
    ]) {
      const headers: Record<string, string> = { "x-date": "20261122T101500Z", "x-user-id": USER };
      if (authorization) headers.authorization = authorization;
      expect(await verify({ headers })).toMatchObject({ ok: false, kind: "auth" });
    }
  });

  it("another AppId, and SignedHeaders without x-date or x-user-id, unsorted or in upper case", async () => {
    expect(await verify({ appId: "someone-else" })).toEqual({
      ok: false,
      kind: "auth",
      reason: "unknown AppId",
    });
    for (const names of ["host;x-date", "host;x-user-id", "x-user-id;x-date;host", "host;X-Date;x-user-id"]) {
      const authorization = GET_AUTH.replace("host;x-date;x-user-id", names);
      expect(await verify({ headers: { ...GET_HEADERS, authorization } })).toMatchObject({
        ok: false,
        kind: "auth",
      });
    }
  });

  it("a signed header that was not sent", async () => {
    const authorization = GET_AUTH.replace("host;x-date;x-user-id", "host;x-date;x-tenant;x-user-id");
    expect(await verify({ headers: { ...GET_HEADERS, authorization } })).toEqual({
      ok: false,
      kind: "auth",
      reason: "signed header x-tenant is missing",
    });
  });

  it("an X-Date that is malformed, in the future or more than 15 minutes old", async () => {
    for (const xDate of ["2026-11-22T10:15:00Z", "20261340T101500Z", "20261122T101500", ""]) {
      expect(await verify({ headers: { ...GET_HEADERS, "x-date": xDate } })).toMatchObject({
        ok: false,
        kind: "date",
      });
    }
    expect(await verify({ now: "2026-11-22T10:14:59Z" })).toEqual({
      ok: false,
      kind: "date",
      reason: "X-Date is in the future",
    });
    expect(await verify({ now: "2026-11-22T10:15:00Z" })).toMatchObject({ ok: true });
    expect(await verify({ now: "2026-11-22T10:30:00Z" })).toMatchObject({ ok: true });
    expect(await verify({ now: "2026-11-22T10:30:00.001Z" })).toEqual({
      ok: false,
      kind: "date",
      reason: "X-Date is more than 15 minutes old",
    });
  });

  it("a request that differs from the signed one in method, host, path, query, header or secret", async () => {
    expect(await verify({ method: "POST" })).toMatchObject({ ok: false, kind: "auth" });
    expect(await verify({ url: GET_URL.replace("intl.", "cn.") })).toMatchObject({ ok: false });
    expect(await verify({ url: GET_URL.replace("/share", "/share/received") })).toMatchObject({ ok: false });
    expect(await verify({ url: GET_URL.replace("100", "99") })).toMatchObject({ ok: false, kind: "auth" });
    expect(await verify({ url: `${GET_URL}&displayName=x` })).toMatchObject({ ok: false, kind: "auth" });
    const otherDate = { ...GET_HEADERS, "x-date": "20261122T101501Z" };
    expect(await verify({ headers: otherDate })).toMatchObject({ ok: false, kind: "auth" });
    const otherUser = { ...GET_HEADERS, "x-user-id": "1505084218764547201" };
    expect(await verify({ headers: otherUser })).toMatchObject({ ok: false, kind: "auth" });
    // The query's order and escaping do not matter: the canonical form does.
    const reordered = `${BASE}/share/?pageCursor=%30&pageSize=100`;
    expect(await verify({ url: reordered })).toEqual({ ok: true, userId: USER });
  });

  it("an X-Traceid that is not exactly 58 characters, and an X-User-Id that is not 19 digits", async () => {
    const traced = (traceId: string) => verify({ headers: { ...GET_HEADERS, "x-traceid": traceId } });
    expect(await traced("t".repeat(57))).toMatchObject({ ok: false, kind: "param" });
    expect(await traced("t".repeat(59))).toMatchObject({ ok: false, kind: "param" });
    expect(await traced("t".repeat(58))).toEqual({ ok: true, userId: USER });

    const date = new Date("2026-11-22T10:15:00Z");
    const signed = await signAppAuth({ method: "GET", url: GET_URL, userId: "12345", date }, KAT);
    expect(await verify({ headers: signed.headers })).toEqual({
      ok: false,
      kind: "param",
      reason: "X-User-Id must be a 19-digit user id",
    });
  });
});
