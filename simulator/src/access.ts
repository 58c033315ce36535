/**
 * A stand-in for Cloudflare Access's key set, `GET https://<team>.cloudflareaccess.com/cdn-cgi/access/certs`
 * (operator-surface.md "Cloudflare Access": `keys`, the RS256 JWKs with their `kid`). Not KooDrive: in tests
 * every outbound fetch of the Worker lands in the simulator, so this answers the Worker's key-set fetches,
 * one key set per Host (each test uses its own team domain). Controlled under /__sim/access:
 * - `PUT /__sim/access/keys?host=<host>` `{"keys":[...]}` sets the host's public keys;
 * - `PUT /__sim/access/fail?host=<host>` `{"fail":true}` makes its fetches answer 503 (false: serve again);
 * - `GET /__sim/access?host=<host>` tells how many times the key set was fetched, and its `kid`s.
 * A host with no keys set answers 404. Every fetch is counted, failed ones too.
 */

/** The path Access serves its keys on [operator-surface.md "Keys"]. */
export const ACCESS_CERTS_PATH = "/cdn-cgi/access/certs";
/** Keys one host may hold (Access publishes the current and the previous key). */
const MAX_KEYS = 10;
/** Private JWK members: a key set is public, so a key carrying any of these is refused. */
const PRIVATE_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "k"];

const json = (status: number, body: unknown): Response => Response.json(body, { status });

type Row = { host: string; jwks: string | null; failing: number; fetches: number };

export class AccessCerts {
  constructor(private readonly sql: SqlStorage) {
    sql.exec(`CREATE TABLE IF NOT EXISTS access_hosts (
      host TEXT PRIMARY KEY, jwks TEXT, failing INTEGER NOT NULL DEFAULT 0, fetches INTEGER NOT NULL DEFAULT 0)`);
  }

  wipe(): void {
    this.sql.exec("DELETE FROM access_hosts");
  }

  private row(host: string): Row | undefined {
    return this.sql.exec<Row>("SELECT * FROM access_hosts WHERE host = ?", host).toArray()[0];
  }

  private ensure(host: string): void {
    this.sql.exec("INSERT OR IGNORE INTO access_hosts (host) VALUES (?)", host);
  }

  /** The key-set endpoint itself, for the request's Host. */
  certs(host: string): Response {
    this.ensure(host);
    this.sql.exec("UPDATE access_hosts SET fetches = fetches + 1 WHERE host = ?", host);
    const row = this.row(host);
    if (row?.failing) return json(503, { error: "access certs unavailable (simulated)" });
    if (!row?.jwks) return json(404, { error: `no keys set for ${host}` });
    return new Response(row.jwks, { headers: { "content-type": "application/json" } });
  }

  /** The control routes below /__sim/access (already authenticated by the control plane). */
  async control(request: Request, route: string, host: string | null): Promise<Response> {
    if (!host || !/^[a-z0-9.-]{1,253}(:\d{1,5})?$/i.test(host))
      return json(400, { error: "?host=<host> is required" });
    const key = host.toLowerCase();
    if (route === "GET /access") {
      const row = this.row(key);
      const keys = row?.jwks ? (JSON.parse(row.jwks) as { keys: { kid?: string }[] }).keys : [];
      return json(200, {
        host: key,
        fetches: row?.fetches ?? 0,
        failing: Boolean(row?.failing),
        kids: keys.map((k) => k.kid ?? null),
      });
    }
    const body = (await request.json().catch(() => undefined)) as Record<string, unknown> | undefined;
    if (route === "PUT /access/keys") {
      const keys = body?.keys;
      if (!Array.isArray(keys) || keys.length > MAX_KEYS || !keys.every(isPublicJwk))
        return json(400, { error: `body must be {"keys":[...]} with 0 to ${MAX_KEYS} public JWKs` });
      this.ensure(key);
      this.sql.exec("UPDATE access_hosts SET jwks = ? WHERE host = ?", JSON.stringify({ keys }), key);
      return json(200, { host: key, kids: keys.map((k) => (k as { kid?: string }).kid ?? null) });
    }
    if (route === "PUT /access/fail") {
      if (typeof body?.fail !== "boolean") return json(400, { error: 'body must be {"fail":true|false}' });
      this.ensure(key);
      this.sql.exec("UPDATE access_hosts SET failing = ? WHERE host = ?", body.fail ? 1 : 0, key);
      return json(200, { host: key, failing: body.fail });
    }
    return json(404, { error: `no control route ${route}` });
  }
}

function isPublicJwk(value: unknown): boolean {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  return typeof (value as { kty?: unknown }).kty === "string" && !PRIVATE_MEMBERS.some((m) => m in value);
}
