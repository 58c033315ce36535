/** @jsxImportSource hono/jsx */
import { type Context, Hono } from "hono";
import type { FC } from "hono/jsx";
import * as z from "zod";
import {
  DEFAULT_RUNS_PAGE,
  listRuns,
  MAX_RUNS_PAGE,
  type RunsListItem,
  RunsQuery,
} from "../../admin/runs-list";
import type { AppEnv } from "../../env";
import { ApiError } from "../../errors";
import { isRunId } from "../../offboarding/start";
import { RUN_STATUSES, type RunStatus, SOURCES, TERMINAL } from "../../offboarding/types";
import { parseFields, queryOf } from "../http";
import { Badge, FilterSelect, Layout, Pager, Time, withQuery } from "../layout";

const SECTION = "/console/runs";

/** A date field (`<input type="date">`), or empty. */
const DateField = z
  .string()
  .trim()
  .regex(/^\d{4}-\d{2}-\d{2}$/, "must be a date (YYYY-MM-DD)")
  .optional()
  .or(z.literal("").transform(() => undefined));
const Text = z
  .string()
  .trim()
  .max(320)
  .optional()
  .transform((v) => v || undefined);

/** The page's query: the API's filters, with whole days (UTC) for since/until. */
const PageQuery = z.object({
  status: Text,
  source: Text,
  person: Text,
  since: DateField,
  until: DateField,
  cursor: z.string().max(200).optional(),
  limit: z.coerce.number().int().min(1).max(MAX_RUNS_PAGE).default(DEFAULT_RUNS_PAGE),
  runId: z.string().max(100).optional(),
});
type PageQuery = z.infer<typeof PageQuery>;

/** The runs list's filters as the admin API takes them (`since` from 00:00, `until` to the end of the day). */
function apiQuery(q: PageQuery): RunsQuery {
  const parsed = parseFields(RunsQuery, {
    status: q.status,
    source: q.source,
    person: q.person,
    since: q.since ? `${q.since}T00:00:00.000Z` : undefined,
    until: q.until ? `${q.until}T23:59:59.999Z` : undefined,
    limit: q.limit,
    cursor: q.cursor,
  });
  if (!parsed.ok) throw new ApiError("bad_request", "invalid filters", parsed.errors);
  return parsed.value;
}

/** The person of a list row, in one line. */
export function rowPerson(s: RunsListItem["subject"]): string {
  const parts = [s.name, s.email, s.hrId !== s.email && s.hrId !== s.koodriveUserId ? `HR ${s.hrId}` : null];
  const text = parts.filter(Boolean).join(" · ");
  return text || (s.koodriveUserId ? `KooDrive ${s.koodriveUserId}` : s.hrId);
}

/**
 * Whether a page follows a run's progress live: until it ends, or until it is watching (its shares are done
 * and the watch's next check is hours away; the run is open but there is nothing to follow).
 */
export const isLive = (status: RunStatus) => !TERMINAL.has(status) && status !== "watching";

/** A run's shares as the list says them: a live progress bar while it runs, the outcome when it is over. */
export const RunShares: FC<{ run: RunsListItem }> = ({ run }) => {
  const { planned, cancelled, failed } = run.counts;
  if (isLive(run.status))
    return (
      <div data-progress-url={`/console/runs/${run.runId}/progress.json`} aria-live="polite">
        <progress
          value={cancelled + failed}
          max={Math.max(1, planned)}
          aria-label={`Progress of ${run.runId}`}
        />
        <span data-progress-text class="muted">
          {cancelled + failed} of {planned} handled
        </span>
      </div>
    );
  if (run.dryRun) return <span>{planned} planned (dry run)</span>;
  return (
    <span>
      {cancelled} of {planned} cancelled{failed ? `, ${failed} failed` : ""}
    </span>
  );
};

/** The runs table (the runs page and the overview's "needs attention"). */
export const RunsTable: FC<{ runs: RunsListItem[]; caption: string; testid?: string }> = ({
  runs,
  caption,
  testid,
}) => (
  <div class="scroll">
    <table class="cards" data-testid={testid ?? "runs"}>
      <caption class="muted">{caption}</caption>
      <thead>
        <tr>
          <th scope="col">Run</th>
          <th scope="col">Person</th>
          <th scope="col">Source</th>
          <th scope="col">Status</th>
          <th scope="col">Shares</th>
          <th scope="col">Received</th>
        </tr>
      </thead>
      <tbody>
        {runs.map((r) => (
          <tr data-run-id={r.runId}>
            <td data-label="Run">
              <a href={`/console/runs/${r.runId}`}>
                <code>{r.runId}</code>
              </a>
            </td>
            <td data-label="Person">{rowPerson(r.subject)}</td>
            <td data-label="Source">{r.source}</td>
            <td data-label="Status">
              <Badge value={r.status} />
            </td>
            <td data-label="Shares">
              <RunShares run={r} />
            </td>
            <td data-label="Received">
              <Time iso={r.createdAt} />
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  </div>
);

async function render(c: Context<AppEnv>) {
  const q = queryOf(c, PageQuery);
  const page = await listRuns(c.env, apiQuery(q));
  const filters = {
    source: q.source,
    person: q.person,
    since: q.since,
    until: q.until,
    limit: q.limit === DEFAULT_RUNS_PAGE ? undefined : q.limit,
  };
  const total = Object.values(page.counts).reduce((a, b) => a + b, 0);
  const inFlight = page.runs.some((r) => isLive(r.status));
  return c.html(
    <Layout
      title="Runs"
      section={SECTION}
      principal={c.var.principal}
      requestId={c.var.requestId}
      script={inFlight}
    >
      <form class="inline" method="get" action={SECTION}>
        <FilterSelect
          label="Status"
          name="status"
          options={RUN_STATUSES}
          value={q.status}
          none="any"
          show={(s) => s.replaceAll("_", " ")}
        />
        <FilterSelect label="Source" name="source" options={SOURCES} value={q.source} none="any" />
        <label>
          Person (e-mail, HR id, KooDrive id or name)
          <input name="person" maxlength={320} value={q.person ?? ""} />
        </label>
        <label>
          Received from
          <input type="date" name="since" value={q.since ?? ""} />
        </label>
        <label>
          until (inclusive, UTC)
          <input type="date" name="until" value={q.until ?? ""} />
        </label>
        <button type="submit">Filter</button>
        <a href={SECTION}>Clear</a>
      </form>
      <nav class="chips" aria-label="Runs by status" data-testid="status-counts">
        <a href={withQuery(SECTION, filters)} aria-current={q.status ? undefined : "true"}>
          all <span class="count">{total}</span>
        </a>
        {RUN_STATUSES.filter((s) => page.counts[s] > 0 || q.status === s).map((s) => (
          <a
            href={withQuery(SECTION, { ...filters, status: s })}
            aria-current={q.status === s ? "true" : undefined}
            data-status={s}
          >
            <Badge value={s} /> <span class="count">{page.counts[s]}</span>
          </a>
        ))}
      </nav>
      {page.runs.length === 0 ? (
        <p>No runs match these filters.</p>
      ) : (
        <RunsTable runs={page.runs} caption="Runs, newest first" />
      )}
      <Pager
        first={q.cursor ? withQuery(SECTION, { ...filters, status: q.status }) : undefined}
        next={
          page.nextCursor
            ? withQuery(SECTION, { ...filters, status: q.status, cursor: page.nextCursor })
            : undefined
        }
      />
    </Layout>,
  );
}

/** Runs: the filterable, paged list (the runs index, `listRuns`); a run id typed in the overview opens it. */
export function runsListPage() {
  const app = new Hono<AppEnv>();
  app.get("/", (c) => {
    const runId = c.req.query("runId")?.trim() ?? "";
    if (isRunId(runId)) return c.redirect(`${SECTION}/${runId}`, 303);
    return render(c);
  });
  return app;
}
