import { describe, expect, it } from "vitest";
import {
  canonicalPath as simCanonicalPath,
  canonicalQuery as simCanonicalQuery,
  verifyAppAuth,
} from "../../simulator/src/app-auth";
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
} from "../../src/koodrive/signer";

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

/**
 * The service's signer against the simulator's verifier: two implementations written separately from the
 * contract (src/koodrive/signer.ts and simulator/src/app-auth.ts), so their agreement means something. Each
 * case also pins the canonical path and query to values written by hand from koodrive-api.md steps 1.2 and
 * 1.3 (RFC 3986: only A-Za-z0-9-_.~ kept, upper-case hex, space as %20, each path segment encoded, a
 * trailing `/`, names sorted in character-code order).
 */
describe("app-auth signer: agrees with the simulator's independent verifier", () => {
  const BASE = "https://intl.myhuaweicloud-koodrive.com";
  const DATE = "20261122T101500Z";
  const NOW = new Date("2026-11-22T10:15:30Z");

  /** Builds a URL as the client does: values set through URLSearchParams (form encoding). */
  const built = (path: string, query: Record<string, string>) => {
    const url = new URL(path, BASE);
    for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
    return url.toString();
  };

  const cases: { name: string; url: string; path: string; query: string }[] = [
    {
      name: "spaces in query and path (typed raw)",
      url: `${BASE}/koodrive/ose/v1/share/my doc?displayName=Q3 plan`,
      path: "/koodrive/ose/v1/share/my%20doc/",
      query: "displayName=Q3%20plan",
    },
    {
      name: "space, plus and tilde in a value built by URLSearchParams (space as +, plus as %2B, ~ as %7E)",
      url: built("/koodrive/ose/v1/share", { displayName: "a+b c~d" }),
      path: "/koodrive/ose/v1/share/",
      query: "displayName=a%2Bb%20c~d",
    },
    {
      name: "a raw + in the query is a space; %2B is a plus; + in the path is a plus",
      url: `${BASE}/koodrive/ose/v1/share/a+b?q=x+y&r=x%2By`,
      path: "/koodrive/ose/v1/share/a%2Bb/",
      query: "q=x%20y&r=x%2By",
    },
    {
      name: "tilde kept in path and query, even when sent escaped",
      url: `${BASE}/koodrive/ose/v1/~share/%7Eme?t=~x&u=%7Ey`,
      path: "/koodrive/ose/v1/~share/~me/",
      query: "t=~x&u=~y",
    },
    {
      name: "percent signs: escaped, and a stray one",
      url: `${BASE}/koodrive/ose/v1/share/100%25/50%?off=100%25&raw=50%`,
      path: "/koodrive/ose/v1/share/100%25/50%25/",
      query: "off=100%25&raw=50%25",
    },
    {
      name: "non-ASCII in path and query (typed raw)",
      url: `${BASE}/koodrive/ose/v1/share/Jörg/東京?owner=Jörg&city=東京`,
      path: "/koodrive/ose/v1/share/J%C3%B6rg/%E6%9D%B1%E4%BA%AC/",
      query: "city=%E6%9D%B1%E4%BA%AC&owner=J%C3%B6rg",
    },
    {
      name: "non-ASCII names sort by their encoded form, built by URLSearchParams",
      url: built("/koodrive/ose/v1/userList", { zone: "1", Ärger: "2", keyWord: "Jörg 東京" }),
      path: "/koodrive/ose/v1/userList/",
      query: "%C3%84rger=2&keyWord=J%C3%B6rg%20%E6%9D%B1%E4%BA%AC&zone=1",
    },
    {
      name: "reserved characters are escaped, an empty value keeps its =",
      url: built("/koodrive/ose/v1/share", { q: "a=b&c/d?e#f*!'()", empty: "" }),
      path: "/koodrive/ose/v1/share/",
      query: "empty=&q=a%3Db%26c%2Fd%3Fe%23f%2A%21%27%28%29",
    },
  ];

  for (const c of cases) {
    it(c.name, async () => {
      const url = new URL(c.url);
      expect(canonicalUri(url.pathname)).toBe(c.path);
      expect(canonicalQuery(url.search)).toBe(c.query);
      expect(simCanonicalPath(url.pathname)).toBe(c.path);
      expect(simCanonicalQuery(url.search)).toBe(c.query);

      const headers = { "x-date": DATE, "x-user-id": USER };
      const signed = await sign({ method: "GET", url: c.url, headers }, SECRET);
      expect(signed.canonicalRequest.split("\n").slice(1, 3)).toEqual([c.path, c.query]);
      // What the simulator receives: the same URL as fetch would send it, with the signed headers.
      const received = new Request(c.url, {
        headers: { ...headers, authorization: authorizationHeader(APP_ID, signed) },
      });
      const verdict = await verifyAppAuth({
        method: received.method,
        url: received.url,
        headers: received.headers,
        body: new Uint8Array(),
        appId: APP_ID,
        appSecret: SECRET,
        now: NOW,
      });
      expect(verdict).toEqual({ ok: true, userId: USER });
    });
  }

  it("agrees on a POST body with non-ASCII bytes, and both refuse it once a byte changes", async () => {
    const url = `${BASE}/koodrive/ose/v1/share/cancel`;
    const body = '{"shareIds":["1689759841444195840"],"note":"Jörg 東京"}';
    const headers = { "x-date": DATE, "x-user-id": USER };
    const signed = await sign({ method: "POST", url, headers, body }, SECRET);
    const check = (sent: string) =>
      verifyAppAuth({
        method: "POST",
        url,
        headers: new Headers({ ...headers, authorization: authorizationHeader(APP_ID, signed) }),
        body: new TextEncoder().encode(sent),
        appId: APP_ID,
        appSecret: SECRET,
        now: NOW,
      });
    expect(await check(body)).toEqual({ ok: true, userId: USER });
    expect(await check(body.replace("東京", "京都"))).toMatchObject({ ok: false, kind: "auth" });
  });
});
