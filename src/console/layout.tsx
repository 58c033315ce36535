/** @jsxImportSource hono/jsx */
import { raw } from "hono/html";
import type { Child, FC, PropsWithChildren } from "hono/jsx";
import type { Principal } from "../roles";
import { ICON, SCRIPT, STYLESHEET } from "./assets";

/**
 * One entry of the console's navigation. `ready: false` marks a page that is not built yet (none is now);
 * the flag stays so that a new page can be listed before it lands.
 */
export interface NavItem {
  href: string;
  label: string;
  ready: boolean;
}

export const NAV: readonly NavItem[] = [
  { href: "/console", label: "Overview", ready: true },
  { href: "/console/runs", label: "Runs", ready: true },
  { href: "/console/offboard", label: "Offboard someone", ready: true },
  { href: "/console/inbox", label: "Inbox", ready: true },
  { href: "/console/holds", label: "Holds", ready: true },
  { href: "/console/identities", label: "Identities", ready: true },
  { href: "/console/audit", label: "Audit", ready: true },
  { href: "/console/tokens", label: "API tokens", ready: true },
  { href: "/console/api", label: "API reference", ready: true },
];

/** The banner a local identity (`npm start`) shows on every page: it must never pass for production. */
export const LOCAL_BANNER = "Local identity: not for production";

export interface PageProps {
  title: string;
  /** The nav entry this page belongs to (its href). */
  section?: string;
  principal?: Principal | undefined;
  requestId: string;
  /** Adds the progress script (the run page, for runs in flight). */
  script?: boolean;
}

/** Every console page: skip link, header naming the verified actor and role, nav, main, footer. */
export const Layout: FC<PropsWithChildren<PageProps>> = (props) => (
  <>
    {raw("<!DOCTYPE html>")}
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="referrer" content="no-referrer" />
        <title>{`${props.title} · KooDrive Offboard`}</title>
        <link rel="stylesheet" href={STYLESHEET.path} />
        <link rel="icon" href={ICON.path} type="image/svg+xml" />
        {props.script ? <script src={SCRIPT.path} defer /> : null}
      </head>
      <body>
        <a class="skip" href="#main">
          Skip to content
        </a>
        {props.principal?.verifiedBy === "local" ? (
          <div class="banner-local" role="alert">
            {LOCAL_BANNER}
          </div>
        ) : null}
        <header class="top">
          <a class="brand" href="/console">
            KooDrive Offboard
          </a>
          {props.principal ? (
            <p class="who" data-testid="who">
              Signed in as <strong>{props.principal.actor}</strong> · role{" "}
              <strong>{props.principal.role}</strong> · verified by {props.principal.verifiedBy}
            </p>
          ) : null}
        </header>
        {props.principal ? (
          <nav class="main" aria-label="Console">
            <ul>
              {NAV.map((item) => (
                <li>
                  <a href={item.href} aria-current={props.section === item.href ? "page" : undefined}>
                    {item.label}
                  </a>
                </li>
              ))}
            </ul>
          </nav>
        ) : null}
        <main id="main" tabindex={-1}>
          <h1>{props.title}</h1>
          {props.children}
        </main>
        <footer>
          Request id <code>{props.requestId}</code>
        </footer>
      </body>
    </html>
  </>
);

type Tone = "ok" | "warn" | "bad" | "info" | "muted";

/**
 * How each run status, share state and action state reads at a glance (colour plus the word itself, never
 * colour alone).
 */
const TONE: Record<string, Tone> = {
  completed: "ok",
  cancelled: "ok",
  already_gone: "ok",
  dry_run: "info",
  accepted: "info",
  running: "info",
  watching: "info",
  planned: "info",
  in_flight: "info",
  needs_confirmation: "warn",
  awaiting_approval: "warn",
  expired: "warn",
  withdrawn: "muted",
  not_run: "muted",
  needs_recipient: "warn",
  late: "warn",
  partial: "warn",
  unresolved: "warn",
  skipped_hold: "muted",
  skipped_scope: "muted",
  held: "muted",
  pending: "muted",
  failed: "bad",
  still_active: "bad",
  rejected: "bad",
};

export const Badge: FC<{ value: string }> = ({ value }) => (
  <span class={`badge b-${TONE[value] ?? "muted"}`}>{value.replaceAll("_", " ")}</span>
);

/** An ISO time as `2026-11-30 19:03:32 UTC` in a `<time>` element. */
export const Time: FC<{ iso: string | null | undefined }> = ({ iso }) =>
  iso ? <time datetime={iso}>{formatTime(iso)}</time> : <span class="muted">-</span>;

export function formatTime(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : `${d.toISOString().slice(0, 19).replace("T", " ")} UTC`;
}

/** Human duration between two ISO times (`3 min 12 s`). */
export function duration(fromIso: string, toIso: string): string {
  const ms = Math.max(0, Date.parse(toIso) - Date.parse(fromIso));
  // Under a minute, tenths of a second: a run against a fast tenant finishes in well under one.
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${s % 60} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

export const Notice: FC<PropsWithChildren<{ tone?: "ok" | "bad" | "warn" }>> = ({ tone, children }) => (
  <div class={`notice${tone ? ` ${tone}` : ""}`} role={tone === "bad" ? "alert" : "status"}>
    {children}
  </div>
);

/**
 * A list filter: a labelled select of `options`, the first option (`all`, `any`) meaning no filter, the one in
 * the query selected. `show` turns a value into its label (`needs_confirmation` -> `needs confirmation`).
 */
export const FilterSelect: FC<{
  label: string;
  name: string;
  options: readonly string[];
  value: string | undefined;
  none: string;
  show?: (value: string) => string;
}> = ({ label, name, options, value, none, show }) => (
  <label>
    {label}
    <select name={name}>
      <option value="">{none}</option>
      {options.map((o) => (
        <option value={o} selected={value === o}>
          {show ? show(o) : o}
        </option>
      ))}
    </select>
  </label>
);

/** The "next page" link of a paged list (only when there is one), plus a link back to the first page. */
export const Pager: FC<{ first?: string | undefined; next?: string | undefined }> = ({ first, next }) => (
  <nav class="pager" aria-label="Pages">
    {first ? <a href={first}>First page</a> : null}
    {next ? (
      <a href={next} rel="next">
        Next page
      </a>
    ) : null}
  </nav>
);

/** Field errors as a list (row-numbered for CSV uploads). */
export const FieldErrorList: FC<{ errors: ReadonlyArray<{ path: string; message: string }> }> = ({
  errors,
}) => (
  <ul data-testid="field-errors">
    {errors.map((e) => (
      <li>
        <strong>{e.path}</strong>: {e.message}
      </li>
    ))}
  </ul>
);

/** A URL of the same page with some query parameters replaced (empty values dropped). */
export function withQuery(path: string, params: Record<string, string | number | undefined | null>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params))
    if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}

export type { Child };
