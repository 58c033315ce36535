/** @jsxImportSource hono/jsx */
import { type Context, Hono } from "hono";
import * as z from "zod";
import { auditChange, HoldInput, HoldParams, holdsStore, refusal } from "../../admin/holds";
import { requireRole } from "../../admin/principal";
import type { AppEnv } from "../../env";
import { ApiError, type FieldError } from "../../errors";
import type { Hold, HoldsChanged, HoldsRefused } from "../../offboarding/holds";
import { roleAllows } from "../../roles";
import { formFields, parseFields, queryOf } from "../http";
import { FieldErrorList, Layout, Notice, Pager, Time, withQuery } from "../layout";

/** Holds per page of the list (the store keeps up to MAX_HOLDS = 10,000). */
export const HOLDS_PAGE_SIZE = 100;

/**
 * The version of the holds the form was rendered with: the console's `If-Match`. A change made by anyone
 * since then refuses the submission (412) instead of acting on a list the admin did not see.
 */
const Version = z.coerce.number().int().min(0);
const AddForm = HoldInput.extend({ version: Version });
const RemoveForm = z.object({ version: Version, confirmed: z.literal("yes").optional() });

const NOTICES = { added: "Hold added.", removed: "Hold removed." } as const;
const Query = z.object({
  page: z.coerce.number().int().min(1).max(1000).default(1),
  notice: z.enum(["added", "removed"]).optional(),
});

interface ListState {
  errors?: FieldError[];
  message?: string;
  values?: Record<string, string>;
  status?: 200 | 404 | 409 | 412 | 422;
}

/** The holds page: the list (paged), and for admins the add form. */
async function renderList(c: Context<AppEnv>, state: ListState = {}) {
  const q = queryOf(c, Query);
  const { version, holds } = await holdsStore(c.env).read();
  const start = (q.page - 1) * HOLDS_PAGE_SIZE;
  const page = holds.slice(start, start + HOLDS_PAGE_SIZE);
  const canChange = roleAllows(c.var.principal.role, "admin");
  const v = state.values ?? {};
  return c.html(
    <Layout title="Holds" section="/console/holds" principal={c.var.principal} requestId={c.var.requestId}>
      {q.notice ? <Notice tone="ok">{NOTICES[q.notice]}</Notice> : null}
      {state.message ? (
        <Notice tone="bad">
          <p>{state.message}</p>
          {state.errors ? <FieldErrorList errors={state.errors} /> : null}
        </Notice>
      ) : null}
      <p class="muted">
        A held user or share is never cancelled by any run. {holds.length} hold(s), version{" "}
        <span data-testid="holds-version">{version}</span>.
      </p>
      {canChange ? (
        <form class="stack" method="post" action="/console/holds">
          <h2>Add a hold</h2>
          <input type="hidden" name="version" value={String(version)} />
          <label>
            Kind
            <select name="type">
              <option value="share" selected={v.type !== "user"}>
                one share
              </option>
              <option value="user" selected={v.type === "user"}>
                every share of a user
              </option>
            </select>
          </label>
          <label>
            KooDrive id (19 digits)
            <input name="id" required inputmode="numeric" pattern="\d{19}" value={v.id ?? ""} />
          </label>
          <label>
            Reason (e.g. legal hold reference)
            <input name="reason" required maxlength={500} value={v.reason ?? ""} />
          </label>
          <button type="submit">Add hold</button>
        </form>
      ) : null}
      <h2>Current holds</h2>
      {page.length === 0 ? (
        <p>No holds.</p>
      ) : (
        <div class="scroll">
          <table class="cards" data-testid="holds">
            <thead>
              <tr>
                <th scope="col">Kind</th>
                <th scope="col">KooDrive id</th>
                <th scope="col">Reason</th>
                <th scope="col">Added by</th>
                <th scope="col">Added</th>
                {canChange ? <th scope="col">Action</th> : null}
              </tr>
            </thead>
            <tbody>
              {page.map((h: Hold) => (
                <tr>
                  <td data-label="Kind">{h.type}</td>
                  <td data-label="KooDrive id">
                    <code>{h.id}</code>
                  </td>
                  <td data-label="Reason">{h.reason}</td>
                  <td data-label="Added by">{h.createdBy}</td>
                  <td data-label="Added">
                    <Time iso={h.createdAt} />
                  </td>
                  {canChange ? (
                    <td data-label="Action">
                      <a href={withQuery(`/console/holds/${h.type}/${h.id}/remove`, { version })}>
                        Remove<span class="vh">{` hold ${h.type} ${h.id}`}</span>
                      </a>
                    </td>
                  ) : null}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <Pager
        first={q.page > 1 ? "/console/holds" : undefined}
        next={
          start + HOLDS_PAGE_SIZE < holds.length
            ? withQuery("/console/holds", { page: q.page + 1 })
            : undefined
        }
      />
    </Layout>,
    state.status ?? 200,
  );
}

/** A refused change as the page says it (stale: someone changed the holds since the page was shown). */
function refusedState(r: HoldsRefused, what: string): ListState {
  if (r.refused === "stale")
    return {
      status: 412,
      message: `The holds changed since this page was shown (now version ${r.version}). Check the list below and try again.`,
    };
  const err = refusal(r, what);
  return { status: err.status === 409 ? 409 : err.status === 404 ? 404 : 412, message: err.message };
}

/** Holds: list (viewers), add and remove (admins), through the same store and audit as `/holds`. */
export function holdsPages() {
  const app = new Hono<AppEnv>();
  app.post("*", requireRole("admin"));
  app.get("/:type/:id/remove", requireRole("admin"));

  app.get("/", (c) => renderList(c));

  app.post("/", async (c) => {
    const fields = await formFields(c);
    const parsed = parseFields(AddForm, fields);
    if (!parsed.ok)
      return renderList(c, {
        status: 422,
        message: "The hold was not added.",
        errors: parsed.errors,
        values: fields,
      });
    const { version, ...hold } = parsed.value;
    const result = await holdsStore(c.env).add([{ ...hold, createdBy: c.var.principal.actor }], [version]);
    if (!result.ok) return renderList(c, { ...refusedState(result, ""), values: fields });
    await auditChange(c, "holds added", result as HoldsChanged, `"${version}"`);
    return c.redirect("/console/holds?notice=added", 303);
  });

  app.get("/:type/:id/remove", async (c) => {
    const params = parseFields(HoldParams, c.req.param());
    if (!params.ok) throw new ApiError("not_found", "no such hold");
    const { type, id } = params.value;
    const { version, holds } = await holdsStore(c.env).read();
    const hold = holds.find((h) => h.type === type && h.id === id);
    if (!hold) throw new ApiError("not_found", `no hold ${type}:${id}`);
    const shown = Version.safeParse(c.req.query("version"));
    return c.html(
      <Layout
        title="Remove this hold?"
        section="/console/holds"
        principal={c.var.principal}
        requestId={c.var.requestId}
      >
        <p>
          Removing the hold on {type} <code>{id}</code> ({hold.reason}, added by {hold.createdBy}) lets the
          next run cancel {type === "user" ? "every share of this user" : "this share"}.
        </p>
        <form method="post" action={`/console/holds/${type}/${id}/remove`}>
          <input type="hidden" name="version" value={String(shown.success ? shown.data : version)} />
          <input type="hidden" name="confirmed" value="yes" />
          <button type="submit" class="danger">
            Remove hold
          </button>{" "}
          <a href="/console/holds">Keep it</a>
        </form>
      </Layout>,
    );
  });

  app.post("/:type/:id/remove", async (c) => {
    const params = parseFields(HoldParams, c.req.param());
    if (!params.ok) throw new ApiError("not_found", "no such hold");
    const { type, id } = params.value;
    const form = parseFields(RemoveForm, await formFields(c));
    if (!form.ok) throw new ApiError("bad_request", "the form is incomplete", form.errors);
    if (form.value.confirmed !== "yes")
      return c.redirect(
        withQuery(`/console/holds/${type}/${id}/remove`, { version: form.value.version }),
        303,
      );
    const result = await holdsStore(c.env).remove(type, id, [form.value.version]);
    if (!result.ok) return renderList(c, refusedState(result, `${type}:${id}`));
    await auditChange(c, "hold removed", result, `"${form.value.version}"`);
    return c.redirect("/console/holds?notice=removed", 303);
  });

  return app;
}
