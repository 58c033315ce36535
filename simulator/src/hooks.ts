/**
 * Test receivers for the service's outbound events and channel notifications (issue 11). Not KooDrive: in
 * tests every outbound fetch of the Worker lands in the simulator, so a POST to `/__hooks/<name>` (any host)
 * is recorded (headers and body, exactly as sent) and answered 200, or 500 while the receiver's failure
 * counter is above 0 (each failed answer takes one off). Controlled under /__sim/hooks:
 * - `PUT /__sim/hooks/<name>` `{"fail":n}` sets the counter (0 to MAX_FAILS);
 * - `GET /__sim/hooks/<name>` lists what the receiver got, oldest first, and the counter;
 * - `DELETE /__sim/hooks/<name>` forgets both. `/__sim/reset` forgets every receiver.
 */

/** The path prefix receivers answer on. */
export const HOOKS_PREFIX = "/__hooks/";
/** The largest failure counter accepted (more than any retry policy under test). */
const MAX_FAILS = 1000;
/** Receiver names: a short slug, so a name cannot smuggle a path. */
const NAME = /^[A-Za-z0-9_-]{1,64}$/;
/** Bodies kept per delivery: a notification is a few KiB; more is cut (and said so). */
const MAX_BODY = 256 * 1024;

const json = (status: number, body: unknown): Response => Response.json(body, { status });

type Delivery = { seq: number; at: number; status: number; headers: string; body: string };

export class HookReceivers {
  constructor(private readonly sql: SqlStorage) {
    sql.exec(`
      CREATE TABLE IF NOT EXISTS hook_receivers (name TEXT PRIMARY KEY, fail INTEGER NOT NULL DEFAULT 0);
      CREATE TABLE IF NOT EXISTS hook_deliveries (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, at INTEGER NOT NULL, status INTEGER NOT NULL,
        headers TEXT NOT NULL, body TEXT NOT NULL);
    `);
  }

  wipe(): void {
    this.sql.exec("DELETE FROM hook_receivers; DELETE FROM hook_deliveries;");
  }

  /** A receiver's name from a `/__hooks/<name>` path; undefined for anything else. */
  static nameOf(pathname: string): string | undefined {
    const name = pathname.slice(HOOKS_PREFIX.length);
    return pathname.startsWith(HOOKS_PREFIX) && NAME.test(name) ? name : undefined;
  }

  /** A delivery: recorded, then answered 500 while the counter lasts, else 200. */
  async receive(name: string, request: Request): Promise<Response> {
    const body = (await request.text()).slice(0, MAX_BODY);
    const fail =
      this.sql.exec<{ fail: number }>("SELECT fail FROM hook_receivers WHERE name = ?", name).toArray()[0]
        ?.fail ?? 0;
    const status = fail > 0 ? 500 : 200;
    if (fail > 0) this.sql.exec("UPDATE hook_receivers SET fail = fail - 1 WHERE name = ?", name);
    this.sql.exec(
      "INSERT INTO hook_deliveries (name, at, status, headers, body) VALUES (?, ?, ?, ?, ?)",
      name,
      Date.now(),
      status,
      JSON.stringify(Object.fromEntries(request.headers)),
      body,
    );
    return status === 200 ? json(200, { ok: true }) : json(500, { error: "receiver failing (simulated)" });
  }

  /** The control routes below /__sim/hooks (already authenticated by the control plane). */
  async control(request: Request, route: string): Promise<Response> {
    const match = /^(GET|PUT|DELETE) \/hooks\/([^/]+)$/.exec(route);
    const name = match?.[2];
    if (!match || !name || !NAME.test(name))
      return json(404, { error: "use GET, PUT or DELETE /__sim/hooks/<name>" });
    if (match[1] === "DELETE") {
      this.sql.exec("DELETE FROM hook_receivers WHERE name = ?", name);
      this.sql.exec("DELETE FROM hook_deliveries WHERE name = ?", name);
      return json(200, { ok: true });
    }
    if (match[1] === "PUT") {
      const body = (await request.json().catch(() => undefined)) as { fail?: unknown } | undefined;
      const fail = body?.fail;
      if (typeof fail !== "number" || !Number.isInteger(fail) || fail < 0 || fail > MAX_FAILS)
        return json(400, { error: `body must be {"fail":n} with n from 0 to ${MAX_FAILS}` });
      this.sql.exec(
        "INSERT INTO hook_receivers (name, fail) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET fail = excluded.fail",
        name,
        fail,
      );
      return json(200, { name, fail });
    }
    const fail =
      this.sql.exec<{ fail: number }>("SELECT fail FROM hook_receivers WHERE name = ?", name).toArray()[0]
        ?.fail ?? 0;
    const received = this.sql
      .exec<Delivery>(
        "SELECT seq, at, status, headers, body FROM hook_deliveries WHERE name = ? ORDER BY seq",
        name,
      )
      .toArray()
      .map((d) => ({ ...d, headers: JSON.parse(d.headers) as Record<string, string> }));
    return json(200, { name, fail, received });
  }
}
