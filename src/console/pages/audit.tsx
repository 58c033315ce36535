/** @jsxImportSource hono/jsx */
import { Hono } from "hono";
import * as z from "zod";
import { subjectKeyFor } from "../../audit/keys";
import { decodeCursor } from "../../audit/store";
import type { AppEnv } from "../../env";
import { ApiError } from "../../errors";
import { queryOf } from "../http";
import { Badge, Layout, Pager, Time, withQuery } from "../layout";

/** Records per page of the audit page (GET /audit's default). */
export const AUDIT_PAGE_SIZE = 50;

/** A day as an HTML date input sends it (`2026-11-30`), read in UTC. */
const Day = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, "must be a date (YYYY-MM-DD)")
  .refine((d) => !Number.isNaN(Date.parse(`${d}T00:00:00Z`)), "must be a date (YYYY-MM-DD)");
const blank = z.literal("").transform(() => undefined);

const Query = z.object({
  user: z.string().trim().max(320).optional().or(blank),
  since: Day.optional().or(blank),
  until: Day.optional().or(blank),
  cursor: z
    .string()
    .max(4000)
    .optional()
    .refine((v) => {
      try {
        decodeCursor(v);
        return true;
      } catch {
        return false;
      }
    }, "invalid cursor"),
});

/** The audit trail: by person (e-mail, HR id or KooDrive id), date range (UTC days, inclusive), paged. */
export function auditPages() {
  const app = new Hono<AppEnv>();
  app.get("/", async (c) => {
    const q = queryOf(c, Query);
    const user = q.user || undefined;
    const page = await c.var.audit
      .list({
        limit: AUDIT_PAGE_SIZE,
        ...(user ? { subject: subjectKeyFor(user) } : {}),
        ...(q.since ? { since: `${q.since}T00:00:00.000Z` } : {}),
        ...(q.until ? { until: `${q.until}T23:59:59.999Z` } : {}),
        ...(q.cursor ? { cursor: q.cursor } : {}),
      })
      .catch((err: unknown) => {
        if (err instanceof RangeError) throw new ApiError("bad_request", "invalid cursor");
        throw err;
      });
    const filters = { user, since: q.since, until: q.until };
    return c.html(
      <Layout title="Audit" section="/console/audit" principal={c.var.principal} requestId={c.var.requestId}>
        <form class="inline" method="get" action="/console/audit">
          <label>
            Person (e-mail, HR id or KooDrive id)
            <input name="user" value={user ?? ""} maxlength={320} />
          </label>
          <label>
            From (UTC day)
            <input type="date" name="since" value={q.since ?? ""} />
          </label>
          <label>
            To (UTC day)
            <input type="date" name="until" value={q.until ?? ""} />
          </label>
          <button type="submit">Show</button>
        </form>
        {page.records.length === 0 ? (
          <p>No audit records match.</p>
        ) : (
          <div class="scroll">
            <table class="cards" data-testid="audit">
              <thead>
                <tr>
                  <th scope="col">When</th>
                  <th scope="col">Type</th>
                  <th scope="col">Actor</th>
                  <th scope="col">Person</th>
                  <th scope="col">Run</th>
                  <th scope="col">Status</th>
                  <th scope="col">Reason</th>
                </tr>
              </thead>
              <tbody>
                {page.records.map((r) => (
                  <tr data-record-id={r.id}>
                    <td data-label="When">
                      <Time iso={r.at} />
                    </td>
                    <td data-label="Type">{r.type}</td>
                    <td data-label="Actor">
                      {r.actor}
                      {r.verifiedBy ? <span class="muted"> ({r.verifiedBy})</span> : null}
                    </td>
                    <td data-label="Person">
                      {[r.subject?.name, r.subject?.email, r.subject?.hrId].filter(Boolean).join(" · ") ||
                        "-"}
                    </td>
                    <td data-label="Run">
                      {r.runId ? <a href={`/console/runs/${r.runId}`}>{r.runId}</a> : "-"}
                    </td>
                    <td data-label="Status">{r.status ? <Badge value={r.status} /> : "-"}</td>
                    <td data-label="Reason">{r.reason ?? ""}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        <Pager
          first={q.cursor ? withQuery("/console/audit", filters) : undefined}
          next={page.cursor ? withQuery("/console/audit", { ...filters, cursor: page.cursor }) : undefined}
        />
      </Layout>,
    );
  });
  return app;
}
