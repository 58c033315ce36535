/** @jsxImportSource hono/jsx */
import { type Context, Hono } from "hono";
import type { FC } from "hono/jsx";
import * as z from "zod";
import type { IdentityLoad } from "../../admin/identities";
import { requireRole } from "../../admin/principal";
import { confirmSuggestions, dismissSuggestions, type Match } from "../../admin/suggestions/confirm";
import { listSuggestions, MAX_SUGGESTIONS_PAGE, type Suggestion } from "../../admin/suggestions/suggest";
import type { AppEnv } from "../../env";
import { ApiError, type FieldError } from "../../errors";
import { roleAllows } from "../../roles";
import { queryOf, readForm } from "../http";
import { FieldErrorList, Layout, Notice, Pager, Time, withQuery } from "../layout";

const BASE = "/console/identities/suggestions";
const BULK_FORM = "bulk";

const Query = z.object({ cursor: z.string().max(2000).optional() });

/** A checkbox or radio value: `<19-digit KooDrive id>:<key>` (the id has no colon, the key may). */
const MATCH_VALUE = /^(\d{19}):(.{1,400})$/s;

interface Outcome {
  confirmed?: IdentityLoad & { confirmed: Match[] };
  dismissed?: string[];
  refused?: { message: string; details: FieldError[] };
}

/** How each kind of match reads (layout.tsx badge tones). */
const MATCH_TONE: Record<Suggestion["match"], string> = {
  suggested: "ok",
  ambiguous: "warn",
  none: "muted",
  unknown: "warn",
};

/** One person seen, with their candidates; admins get the confirm-one and dismiss form. */
const Person: FC<{ s: Suggestion; canChange: boolean; cursor: string | undefined }> = ({
  s,
  canChange,
  cursor,
}) => {
  const id = `p-${s.key.replace(/[^A-Za-z0-9]/g, "-")}`;
  return (
    <article class="suggestion" data-key={s.key} aria-labelledby={id}>
      <h3 id={id}>
        {canChange && s.match === "suggested" && s.candidates[0] ? (
          <input
            type="checkbox"
            name="match"
            form={BULK_FORM}
            value={`${s.candidates[0].koodriveUserId}:${s.key}`}
            aria-label={`Select ${s.name} for a bulk action`}
          />
        ) : null}{" "}
        {s.name}{" "}
        <span class="muted">({[s.email, s.hrId ? `HR ${s.hrId}` : null].filter(Boolean).join(" · ")})</span>
      </h3>
      <p class="muted">
        Seen from {s.source}, first <Time iso={s.firstSeenAt} />, last <Time iso={s.lastSeenAt} /> ·{" "}
        <span class={`badge b-${MATCH_TONE[s.match]}`}>{s.match}</span> {s.candidateCount} KooDrive user
        {s.candidateCount === 1 ? "" : "s"} of that name{s.detail ? ` (${s.detail})` : ""}
      </p>
      {canChange ? (
        <form method="post" action={withQuery(`${BASE}/confirm`, { cursor })}>
          {s.candidates.length > 0 ? (
            <fieldset>
              <legend>Which KooDrive user is {s.name}?</legend>
              {s.candidates.map((cand, i) => (
                <label class="check">
                  <input
                    type="radio"
                    name="match"
                    value={`${cand.koodriveUserId}:${s.key}`}
                    checked={s.candidates.length === 1 && i === 0}
                    required
                  />{" "}
                  <code>{cand.koodriveUserId}</code> {cand.name}
                  {cand.deptName ? ` · ${cand.deptName}` : ""}
                  {cand.status === 1 ? " · disabled" : ""}
                </label>
              ))}
            </fieldset>
          ) : null}
          <p>
            {s.candidates.length > 0 ? <button type="submit">Confirm this match</button> : null}{" "}
            <button
              type="submit"
              class="secondary"
              formaction={withQuery(`${BASE}/dismiss`, { cursor })}
              formnovalidate
              name="key"
              value={s.key}
            >
              Dismiss
            </button>
          </p>
        </form>
      ) : (
        <ul>
          {s.candidates.map((cand) => (
            <li>
              <code>{cand.koodriveUserId}</code> {cand.name}
            </li>
          ))}
        </ul>
      )}
    </article>
  );
};

async function render(c: Context<AppEnv>, outcome: Outcome = {}, status: 200 | 409 | 422 = 200) {
  const q = queryOf(c, Query);
  const page = await listSuggestions(c.env, c.var.config, { limit: MAX_SUGGESTIONS_PAGE, cursor: q.cursor });
  const canChange = roleAllows(c.var.principal.role, "admin");
  const bulk = canChange && page.suggestions.some((s) => s.match === "suggested");
  return c.html(
    <Layout
      title="Suggested matches"
      section="/console/identities"
      principal={c.var.principal}
      requestId={c.var.requestId}
    >
      <p>
        <a href="/console/identities">Identities</a> · People seen from HR, Okta or SCIM who have no
        identity-map entry, beside the KooDrive users with the same name. Confirming one makes it a mapping
        now, instead of a name guess when they leave. Each match is checked with KooDrive before it is stored.
      </p>
      {outcome.confirmed ? (
        <Notice tone="ok">
          Confirmed {outcome.confirmed.confirmed.length} match(es):{" "}
          {outcome.confirmed.confirmed.map((m) => `${m.key} → ${m.koodriveUserId}`).join(", ")}. The identity
          map now holds {outcome.confirmed.stored} identities.
        </Notice>
      ) : null}
      {outcome.dismissed ? (
        <Notice tone="ok">
          Dismissed {outcome.dismissed.length}: {outcome.dismissed.join(", ")}. They are not suggested again
          unless seen again after they are forgotten.
        </Notice>
      ) : null}
      {outcome.refused ? (
        <Notice tone="bad">
          <p>{outcome.refused.message}</p>
          <FieldErrorList errors={outcome.refused.details} />
        </Notice>
      ) : null}
      {bulk ? (
        <form
          id={BULK_FORM}
          class="inline"
          method="post"
          action={withQuery(`${BASE}/bulk`, { cursor: q.cursor })}
        >
          <p class="muted">Tick people with one candidate ("suggested"), then:</p>
          <button type="submit" name="action" value="confirm">
            Confirm selected
          </button>
          <button type="submit" name="action" value="dismiss" class="secondary">
            Dismiss selected
          </button>
        </form>
      ) : null}
      {page.suggestions.length === 0 ? (
        <p>No suggestions on this page.</p>
      ) : (
        <div data-testid="suggestions">
          {page.suggestions.map((s) => (
            <Person s={s} canChange={canChange} cursor={q.cursor} />
          ))}
        </div>
      )}
      <Pager
        first={q.cursor ? BASE : undefined}
        next={page.nextCursor ? withQuery(BASE, { cursor: page.nextCursor }) : undefined}
      />
    </Layout>,
    status,
  );
}

/** The `match` values of a form (one radio, or the ticked checkboxes), or a field error. */
async function matchesOf(
  c: Context<AppEnv>,
): Promise<{ action: string; matches: Match[]; bad: FieldError[] }> {
  const body = await readForm(c, true);
  const values = ([] as unknown[]).concat(body.match ?? []).filter((v): v is string => typeof v === "string");
  const matches: Match[] = [];
  const bad: FieldError[] = [];
  for (const [i, v] of values.entries()) {
    const m = MATCH_VALUE.exec(v);
    if (m?.[1] && m[2]) matches.push({ koodriveUserId: m[1], key: m[2] });
    else bad.push({ path: `match.${i}`, message: "not a suggested match" });
  }
  return { action: typeof body.action === "string" ? body.action : "", matches, bad };
}

/** Runs a confirmation or dismissal; an all-or-nothing refusal is shown with each refused item. */
async function act(c: Context<AppEnv>, run: () => Promise<Outcome>) {
  try {
    return render(c, await run());
  } catch (err) {
    if (err instanceof ApiError && (err.code === "conflict" || err.code === "invalid_body"))
      return render(
        c,
        { refused: { message: `Nothing was changed: ${err.message}`, details: err.details ?? [] } },
        err.code === "conflict" ? 409 : 422,
      );
    throw err;
  }
}

const NONE_SELECTED: Outcome = {
  refused: { message: "Nothing was changed: select at least one person.", details: [] },
};

/** Suggested matches: the list (viewers), confirm one / in bulk and dismiss (admins), via the API's functions. */
export function suggestionPages() {
  const app = new Hono<AppEnv>();
  app.post("*", requireRole("admin"));
  app.get("/", (c) => render(c));

  app.post("/confirm", async (c) => {
    const { matches, bad } = await matchesOf(c);
    if (bad.length || matches.length !== 1) return render(c, NONE_SELECTED, 422);
    return act(c, async () => ({ confirmed: await confirmSuggestions(c, matches) }));
  });

  app.post("/dismiss", async (c) => {
    const key = (await readForm(c)).key;
    if (typeof key !== "string" || !key.trim()) return render(c, NONE_SELECTED, 422);
    return act(c, async () => ({ dismissed: (await dismissSuggestions(c, [key])).dismissed }));
  });

  app.post("/bulk", async (c) => {
    const { action, matches, bad } = await matchesOf(c);
    if (bad.length || matches.length === 0) return render(c, NONE_SELECTED, 422);
    if (action === "dismiss")
      return act(c, async () => ({
        dismissed: (
          await dismissSuggestions(
            c,
            matches.map((m) => m.key),
          )
        ).dismissed,
      }));
    return act(c, async () => ({ confirmed: await confirmSuggestions(c, matches) }));
  });

  return app;
}
