/**
 * A Cloudflare Access stand-in for tests: an RSA key pair made with Web Crypto, its public key served by
 * the simulator as `https://<team>/cdn-cgi/access/certs` (simulator/src/access.ts, keyed by Host), and
 * tokens signed with jose's SignJWT: an oracle independent of the verifier's configuration. Each test makes
 * its own team domain, so the Worker's per-isolate key-set cache never carries over between tests.
 */
import { type JWTPayload, SignJWT } from "jose";
import { SIM } from "./sim";

const CONTROL = "http://sim.local/__sim/access";

export interface TestKey {
  kid: string;
  privateKey: CryptoKey;
  publicJwk: JsonWebKey & { kid: string; alg: string; use: string };
}

let counter = 0;
const random = () =>
  `${Date.now().toString(36)}${(counter++).toString(36)}${crypto.randomUUID().slice(0, 8)}`;

/** A fresh RS256 key pair, as Access uses (2048-bit RSA). */
export async function newKey(kid = `kid-${random()}`): Promise<TestKey> {
  const pair = (await crypto.subtle.generateKey(
    {
      name: "RSASSA-PKCS1-v1_5",
      modulusLength: 2048,
      publicExponent: new Uint8Array([1, 0, 1]),
      hash: "SHA-256",
    },
    true,
    ["sign", "verify"],
  )) as CryptoKeyPair;
  const jwk = (await crypto.subtle.exportKey("jwk", pair.publicKey)) as JsonWebKey;
  return {
    kid,
    privateKey: pair.privateKey,
    publicJwk: { kty: jwk.kty, n: jwk.n, e: jwk.e, kid, alg: "RS256", use: "sig" } as TestKey["publicJwk"],
  };
}

async function control(method: string, path: string, host: string, body?: unknown) {
  const res = await fetch(`${CONTROL}${path}?host=${encodeURIComponent(host)}`, {
    method,
    headers: { authorization: `Bearer ${SIM.adminToken}` },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  if (!res.ok) throw new Error(`sim access ${method} ${path}: ${res.status} ${await res.text()}`);
  return res.json();
}

/** One test's Access: its team domain, AUD tag and signing key, and the vars that configure the Worker. */
export interface TestTeam {
  host: string;
  teamDomain: string;
  aud: string;
  key: TestKey;
  vars: Record<string, string>;
  /** Replaces the keys the team domain serves. */
  setKeys(keys: TestKey[]): Promise<void>;
  /** Makes the key set answer 503 (true) or serve again (false). */
  fail(fail: boolean): Promise<void>;
  /** How many times the key set was fetched. */
  fetches(): Promise<number>;
  /** A token for `claims`, signed by `key` (default: the team's), valid for 5 minutes unless overridden. */
  sign(
    claims: JWTPayload,
    opts?: { key?: TestKey; iss?: string; aud?: string | string[]; exp?: number },
  ): Promise<string>;
}

/** A fresh team (own Host) serving one key, with role lists layered on in `vars`. */
export async function newTeam(roles: Record<string, string> = {}): Promise<TestTeam> {
  const host = `t-${random()}.cloudflareaccess.com`;
  const teamDomain = `https://${host}`;
  const aud = `aud${crypto.randomUUID().replaceAll("-", "")}`;
  const key = await newKey();
  const team: TestTeam = {
    host,
    teamDomain,
    aud,
    key,
    vars: { ACCESS_TEAM_DOMAIN: teamDomain, ACCESS_AUD: aud, ...roles },
    setKeys: async (keys) => {
      await control("PUT", "/keys", host, { keys: keys.map((k) => k.publicJwk) });
    },
    fail: async (fail) => {
      await control("PUT", "/fail", host, { fail });
    },
    fetches: async () => ((await control("GET", "", host)) as { fetches: number }).fetches,
    sign: (claims, opts = {}) => {
      const now = Math.floor(Date.now() / 1000);
      const signing = opts.key ?? key;
      return new SignJWT(claims)
        .setProtectedHeader({ alg: "RS256", kid: signing.kid })
        .setIssuer(opts.iss ?? teamDomain)
        .setAudience(opts.aud ?? [aud])
        .setIssuedAt(now)
        .setExpirationTime(opts.exp ?? now + 300)
        .sign(signing.privateKey);
    },
  };
  await team.setKeys([key]);
  return team;
}

/** Base64url of a JSON value (to build the unsigned tokens jose refuses to make). */
export const b64urlJson = (value: unknown) =>
  btoa(JSON.stringify(value)).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
