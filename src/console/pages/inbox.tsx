/** @jsxImportSource hono/jsx */
import { Hono } from "hono";
import type { FC } from "hono/jsx";
import * as z from "zod";
import type { AuditRecord } from "../../audit/schema";
import { decodeCursor, MAX_AUDIT_PAGE } from "../../audit/store";
import type { AppEnv } from "../../env";
import { ApiError } from "../../errors";
import { queryOf } from "../http";
import { Badge, FilterSelect, Layout, Pager, Time, withQuery } from "../layout";

/** Requests shown per inbox page: it stops reading the trail once it has at least this many. */
export const INBOX_PAGE_SIZE = 50;
/**
 * Audit pages (of {@link MAX_AUDIT_PAGE} records) one inbox page reads at most. The inbox is a filtered
 * view of the whole trail (no index of requests yet), so a page stops after 500 records and offers the
 * next page from there, even if it found fewer requests than a page holds.
 */
export const INBOX_MAX_SCANS = 5;

export const INBOX_SOURCES = ["hr", "okta", "scim", "slack", "teams", "admin"] as const;
export const OUTCOMES = ["started", "duplicate", "ignored", "rejected", "directory"] as const;
type Outcome = (typeof OUTCOMES)[number];

/** What became of a request, from the record the source (or the run's first step) wrote about it. */
export function outcomeOf(r: AuditRecord): Outcome | undefined {
  if (r.type === "request.rejected") return "rejected";
  if (r.type === "request.duplicate") return "duplicate";
  if (r.type === "scim.user") return "directory";
  if (r.type === "request.received") return r.details?.ignored === true || !r.runId ? "ignored" : "started";
  return undefined;
}

const Query = z.object({
  source: z
    .enum(INBOX_SOURCES)
    .optional()
    .or(z.literal("").transform(() => undefined)),
  outcome: z
    .enum(OUTCOMES)
    .optional()
    .or(z.literal("").transform(() => undefined)),
  cursor: z
    .string()
    .max(4000)
    .optional()
    .refine((v) => v === undefined || validCursor(v), "invalid cursor"),
});

function validCursor(v: string): boolean {
  try {
    decodeCursor(v);
    return true;
  } catch {
    return false;
  }
}

const Row: FC<{ r: AuditRecord; outcome: Outcome }> = ({ r, outcome }) => (
  <tr data-record-id={r.id}>
    <td data-label="When">
      <Time iso={r.at} />
    </td>
    <td data-label="Source">{r.source ?? "-"}</td>
    <td data-label="Verified">
      {outcome === "rejected" ? (
        <>
          <Badge value="rejected" /> {r.reason ?? ""}
        </>
      ) : (
        "yes"
      )}
    </td>
    <td data-label="Outcome">
      {outcome === "started" || outcome === "duplicate" ? (
        <>
          {outcome === "started" ? "started run " : "duplicate of run "}
          <a href={`/console/runs/${r.runId}`}>{r.runId}</a>
        </>
      ) : outcome === "ignored" ? (
        `ignored: ${r.reason ?? ""}`
      ) : outcome === "directory" ? (
        `directory ${r.status ?? "change"}: ${r.reason ?? ""}`
      ) : (
        "no run"
      )}
    </td>
    <td data-label="Who">
      {[r.subject?.name, r.subject?.email, r.subject?.hrId].filter(Boolean).join(" · ") || "-"}
      {r.clientIp ? <span class="muted"> from {r.clientIp}</span> : null}
    </td>
    <td data-label="Event">
      <code>{r.eventId ?? ""}</code>
    </td>
  </tr>
);

/**
 * The inbox (issue 9: "why did HR's termination not trigger anything?"): every request the sources received,
 * from the audit trail, newest first: verified or why not, ignored or which run it started.
 */
export function inboxPage() {
  const app = new Hono<AppEnv>();
  app.get("/", async (c) => {
    const q = queryOf(c, Query);
    const found: Array<{ r: AuditRecord; outcome: Outcome }> = [];
    let cursor = q.cursor;
    for (let scans = 0; scans < INBOX_MAX_SCANS && found.length < INBOX_PAGE_SIZE; scans++) {
      const page = await c.var.audit
        .list({ limit: MAX_AUDIT_PAGE, ...(cursor ? { cursor } : {}) })
        .catch((err: unknown) => {
          if (err instanceof RangeError) throw new ApiError("bad_request", "invalid cursor");
          throw err;
        });
      for (const r of page.records) {
        const outcome = outcomeOf(r);
        if (!outcome) continue;
        if (q.source && r.source !== q.source) continue;
        if (q.outcome && outcome !== q.outcome) continue;
        found.push({ r, outcome });
      }
      cursor = page.cursor;
      if (!cursor) break;
    }
    const filters = { source: q.source, outcome: q.outcome };
    return c.html(
      <Layout title="Inbox" section="/console/inbox" principal={c.var.principal} requestId={c.var.requestId}>
        <p class="muted">Every request the sources received, newest first, and what became of it.</p>
        <form class="inline" method="get" action="/console/inbox">
          <FilterSelect label="Source" name="source" options={INBOX_SOURCES} value={q.source} none="all" />
          <FilterSelect label="Outcome" name="outcome" options={OUTCOMES} value={q.outcome} none="all" />
          <button type="submit">Filter</button>
        </form>
        {found.length === 0 ? (
          <p>No matching requests {q.cursor ? "in this stretch of the trail" : "yet"}.</p>
        ) : (
          <div class="scroll">
            <table class="cards" data-testid="inbox">
              <thead>
                <tr>
                  <th scope="col">When</th>
                  <th scope="col">Source</th>
                  <th scope="col">Verified</th>
                  <th scope="col">Outcome</th>
                  <th scope="col">Who</th>
                  <th scope="col">Event id</th>
                </tr>
              </thead>
              <tbody>
                {found.map((f) => (
                  <Row r={f.r} outcome={f.outcome} />
                ))}
              </tbody>
            </table>
          </div>
        )}
        <Pager
          first={q.cursor ? withQuery("/console/inbox", filters) : undefined}
          next={cursor ? withQuery("/console/inbox", { ...filters, cursor }) : undefined}
        />
      </Layout>,
    );
  });
  return app;
}
