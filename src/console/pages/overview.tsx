/** @jsxImportSource hono/jsx */
import { Hono } from "hono";
import type { FC } from "hono/jsx";
import { type GovernorView, governorView } from "../../admin/governor";
import { listRuns, type RunsPage } from "../../admin/runs-list";
import type { AppEnv, Bindings, Config, SourceSecrets } from "../../env";
import { RUN_STATUSES, type RunStatus } from "../../offboarding/types";
import { within } from "../../timeout";
import { Badge, Layout, Time } from "../layout";
import { RunsTable } from "./runs";

/** The windows the overview counts runs over (issue 9 section 3 "Overview"). */
const WINDOWS = [
  { label: "Last 24 h", ms: 86_400_000 },
  { label: "Last 7 days", ms: 7 * 86_400_000 },
  { label: "Last 30 days", ms: 30 * 86_400_000 },
] as const;

/** Statuses someone should look at: the run ended short, or waits for a person. */
export const ATTENTION: RunStatus[] = [
  "partial",
  "failed",
  "unresolved",
  "needs_confirmation",
  "awaiting_approval",
  "expired",
];
/** Runs listed under "needs attention" (the newest; the runs page filters for the rest). */
const ATTENTION_SHOWN = 10;

type SourceState = "on" | "off" | "misconfigured";

/** `operatorsProblem`: a chat source's malformed operator list (SLACK_OPERATORS, TEAMS_OPERATORS) fails it too. */
const stateOf = (s: SourceSecrets, operatorsProblem?: string): SourceState =>
  s.problem || (s.values.length && operatorsProblem) ? "misconfigured" : s.values.length ? "on" : "off";

interface SourceRow {
  name: string;
  state: SourceState;
  /** Where to paste what, in the sender's own words. */
  urls: Array<{ what: string; url: string }>;
  setting: string;
}

/**
 * Every source, whether it is on (its secret is set; never the secret itself) and the exact URLs to paste
 * into the sender, from this request's origin (README "Connect ..." sections).
 */
function sources(config: Config, origin: string): SourceRow[] {
  return [
    {
      name: "HR (Standard Webhooks)",
      state: "on", // HR_WEBHOOK_SECRETS is required: the Worker does not start without it.
      urls: [{ what: "Webhook endpoint URL", url: `${origin}/webhooks/hr` }],
      setting: "HR_WEBHOOK_SECRETS",
    },
    {
      name: "Okta Event Hook",
      state: stateOf(config.OKTA_EVENT_HOOK_SECRETS),
      urls: [
        { what: "Event Hook URL (POST deliveries)", url: `${origin}/webhooks/okta` },
        { what: "Verification (Okta's one-time GET, same URL)", url: `${origin}/webhooks/okta` },
      ],
      setting: "OKTA_EVENT_HOOK_SECRETS",
    },
    {
      name: "SCIM 2.0 (Okta, Entra ID)",
      state: stateOf(config.SCIM_BEARER_TOKENS),
      urls: [{ what: "SCIM connector base URL / Tenant URL", url: `${origin}/scim/v2` }],
      setting: "SCIM_BEARER_TOKENS",
    },
    {
      name: "Slack slash command",
      state: stateOf(config.SLACK_SIGNING_SECRETS, config.SLACK_OPERATORS.problem),
      urls: [{ what: "Request URL", url: `${origin}/chatops/slack` }],
      setting: "SLACK_SIGNING_SECRETS",
    },
    {
      name: "Microsoft Teams outgoing webhook",
      state: stateOf(config.TEAMS_WEBHOOK_TOKENS, config.TEAMS_OPERATORS.problem),
      urls: [{ what: "Callback URL", url: `${origin}/chatops/teams` }],
      setting: "TEAMS_WEBHOOK_TOKENS",
    },
  ];
}

const CountsByWindow: FC<{ pages: RunsPage[] }> = ({ pages }) => (
  <div class="scroll">
    <table data-testid="status-counts">
      <caption class="muted">Runs received, by status</caption>
      <thead>
        <tr>
          <th scope="col">Status</th>
          {WINDOWS.map((w) => (
            <th scope="col">{w.label}</th>
          ))}
        </tr>
      </thead>
      <tbody>
        {RUN_STATUSES.map((s) => (
          <tr data-status={s}>
            <th scope="row">
              <Badge value={s} />
            </th>
            {pages.map((p) => (
              <td>{p.counts[s]}</td>
            ))}
          </tr>
        ))}
        <tr data-status="total">
          <th scope="row">total</th>
          {pages.map((p) => (
            <td>{Object.values(p.counts).reduce((a, b) => a + b, 0)}</td>
          ))}
        </tr>
      </tbody>
    </table>
  </div>
);

/** Waiting runs the pace panel names (the rest are counted). */
const WAITING_SHOWN = 10;

/**
 * The rate governor's state (issue 12: "in the console's overview"): the pace every run shares, what it has
 * learned of KooDrive's limit, who waits for a permit and the latest 429s. `null`: the governor did not
 * answer; the page says so rather than failing (runs go on without it, on the client's own backoff).
 */
const Pace: FC<{ view: GovernorView | null }> = ({ view }) => {
  if (!view)
    return (
      <p data-testid="pace" class="notice warn" role="status">
        The rate governor did not answer. Runs go on without it, each backing off on KooDrive's 429s by itself
        (each such run's audit trail says "rate governor unavailable").
      </p>
    );
  if (!view.enabled)
    return (
      <p data-testid="pace">
        The rate governor is off (<code>KOODRIVE_MAX_RPS</code> is 0): each run backs off on KooDrive's 429s
        by itself.
      </p>
    );
  const shown = view.waiting.slice(0, WAITING_SHOWN);
  const latest = view.recent429s.at(-1);
  return (
    <div data-testid="pace">
      <dl class="facts">
        <dt>Rate now</dt>
        <dd data-fact="rate">
          {view.rate} requests/s for every run together (ceiling <code>KOODRIVE_MAX_RPS</code> {view.ceiling})
        </dd>
        <dt>KooDrive's limit, as learned</dt>
        <dd data-fact="learned">
          {view.learnedLimit === null
            ? "none learned: no 429 has cut the rate (or the limit was forgotten)"
            : `${view.learnedLimit} requests/s (the rate at the latest 429 that cut it; kept 7 days)`}
        </dd>
        <dt>Paused</dt>
        <dd data-fact="paused">
          {view.pausedUntil ? (
            <>
              every call waits until <Time iso={view.pausedUntil} /> (KooDrive's Retry-After)
            </>
          ) : (
            "no"
          )}
        </dd>
        <dt>429s</dt>
        <dd data-fact="429s">
          {view.total429s} since the governor started
          {latest ? (
            <>
              , the latest at <Time iso={latest} />
            </>
          ) : null}{" "}
          ({view.granted} permits granted; {view.successes} successes reported so far, as runs report them
          with their next lease)
        </dd>
        <dt>Waiting for a permit</dt>
        <dd data-fact="waiting">
          {view.waiting.length === 0 ? (
            "nobody"
          ) : (
            <>
              {view.waiting.length} {view.waiting.length === 1 ? "caller" : "callers"}
              <ul>
                {shown.map((w) => {
                  const runId = w.runId.split("/")[0] as string;
                  return (
                    <li>
                      <a href={`/console/runs/${encodeURIComponent(runId)}`}>
                        <code>{w.runId}</code>
                      </a>{" "}
                      ({w.permits} {w.permits === 1 ? "permit" : "permits"}
                      {w.background ? ", evidence read: waits while runs revoke" : ""})
                    </li>
                  );
                })}
              </ul>
              {view.waiting.length > shown.length ? (
                <p class="muted">and {view.waiting.length - shown.length} more</p>
              ) : null}
            </>
          )}
        </dd>
      </dl>
      <p class="muted">
        Short runs go first; evidence reads wait until no run does. An admin can make the governor forget the
        learned limit with <code>POST /governor/reset</code> (docs/operations.md, "The rate governor").
      </p>
    </div>
  );
};

/** How long the overview waits for the governor's state: a governor that stalls must not hang the page. */
export const PACE_TIMEOUT_MS = 2_000;

/** The governor's view, or null when it errs or does not answer in time (the overview still renders). */
async function paceOf(env: Bindings, config: Config): Promise<GovernorView | null> {
  try {
    return await within(governorView(env, config), PACE_TIMEOUT_MS, `no answer within ${PACE_TIMEOUT_MS} ms`);
  } catch (err) {
    console.warn(JSON.stringify({ msg: "governor state unavailable", error: String(err) }));
    return null;
  }
}

/** The overview: counts by status, runs needing attention, sources and their URLs, open a run by id. */
export function overviewPage() {
  const app = new Hono<AppEnv>();
  app.get("/", async (c) => {
    const now = Date.now();
    const [windows, attention, pace] = await Promise.all([
      Promise.all(
        WINDOWS.map((w) => listRuns(c.env, { since: new Date(now - w.ms).toISOString(), limit: 1 })),
      ),
      listRuns(c.env, { status: ATTENTION, limit: ATTENTION_SHOWN }),
      paceOf(c.env, c.var.config),
    ]);
    const origin = new URL(c.req.url).origin;
    const config = c.var.config;
    const access = config.ACCESS_TEAM_DOMAIN.origin;
    return c.html(
      <Layout title="Overview" section="/console" principal={c.var.principal} requestId={c.var.requestId}>
        <form class="inline" method="get" action="/console/runs">
          <label>
            Run id
            <input name="runId" required placeholder="hr-0123456789abcdef0123456789abcdef" size={40} />
          </label>
          <button type="submit">Open run</button>
        </form>
        <h2>Runs</h2>
        <CountsByWindow pages={windows} />
        <h2>Needs attention</h2>
        {attention.runs.length === 0 ? (
          <p>No run is partial, failed, unresolved or waiting for a confirmation.</p>
        ) : (
          <>
            <RunsTable
              runs={attention.runs}
              caption="The newest runs that ended partial, failed or unresolved, or wait for a name match to be confirmed"
              testid="attention"
            />
            <p>
              <a href={`/console/runs?status=${ATTENTION.join(",")}`}>Every run needing attention</a>
            </p>
          </>
        )}
        <h2>KooDrive pace</h2>
        <Pace view={pace} />
        <h2>Sources</h2>
        <p class="muted">
          What to paste into each sender. A source is on when its secret is set (the secret itself is never
          shown here); see the README's "Connect" sections. The URLs use the address this page was opened on:
          if the console has an admin hostname of its own behind Access, give senders the Worker's public
          hostname instead (Access must not cover these paths).
        </p>
        <div class="scroll">
          <table class="cards" data-testid="sources">
            <caption class="muted">Sources and their URLs</caption>
            <thead>
              <tr>
                <th scope="col">Source</th>
                <th scope="col">State</th>
                <th scope="col">Paste this</th>
                <th scope="col">Setting</th>
              </tr>
            </thead>
            <tbody>
              {sources(config, origin).map((s) => (
                <tr data-source={s.name}>
                  <td data-label="Source">{s.name}</td>
                  <td data-label="State">
                    <span class={`badge b-${s.state === "on" ? "ok" : s.state === "off" ? "muted" : "bad"}`}>
                      {s.state}
                    </span>
                  </td>
                  <td data-label="Paste this">
                    <dl class="urls">
                      {s.urls.map((u) => (
                        <>
                          <dt>{u.what}</dt>
                          <dd>
                            <code>{u.url}</code>
                          </dd>
                        </>
                      ))}
                    </dl>
                  </td>
                  <td data-label="Setting">
                    <code>{s.setting}</code>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        <h2>Admin access</h2>
        <p data-testid="access">
          {access
            ? `Cloudflare Access is on (team domain ${access}); roles come from CONSOLE_ADMINS, CONSOLE_OPERATORS and CONSOLE_VIEWERS.`
            : "Cloudflare Access is off: only API tokens and the break-glass admin token (and, on this machine, the local identity) reach the admin side."}{" "}
          The admin API is described at <a href="/console/api">API reference</a> (
          <a href="/openapi.json">
            <code>{`${origin}/openapi.json`}</code>
          </a>
          ).
        </p>
      </Layout>,
    );
  });
  return app;
}
