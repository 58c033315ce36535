/** @jsxImportSource hono/jsx */
import { type Context, Hono } from "hono";
import { type IdentityLoad, loadIdentities, lookupIdentity } from "../../admin/identities";
import { parseIdentityCsv } from "../../admin/identity-csv";
import { requireRole } from "../../admin/principal";
import type { AppEnv } from "../../env";
import { ApiError, type FieldError } from "../../errors";
import { limitBody } from "../../http";
import type { IdentityEntry } from "../../offboarding/resolve";
import { roleAllows } from "../../roles";
import { readForm } from "../http";
import { FieldErrorList, Layout, Notice, Time } from "../layout";

/** The largest CSV the upload takes: the API's `PUT /identities` body limit (src/admin/routes.ts). */
export const MAX_IDENTITY_UPLOAD_BYTES = 5 * 1024 * 1024;
/** The longest lookup key: an e-mail (320) with its `email:` prefix, or an HR id (200). */
const MAX_KEY_LENGTH = 330;

interface PageState {
  key?: string;
  entry?: IdentityEntry | null;
  loaded?: IdentityLoad;
  errors?: { message: string; details: FieldError[] };
}

function render(c: Context<AppEnv>, state: PageState, status: 200 | 422 = 200) {
  const canUpload = roleAllows(c.var.principal.role, "admin");
  return c.html(
    <Layout
      title="Identities"
      section="/console/identities"
      principal={c.var.principal}
      requestId={c.var.requestId}
    >
      <p class="muted">The identity map: which KooDrive user an HR id or e-mail address is.</p>
      <p>
        <a href="/console/identities/suggestions">Suggested matches</a>: people seen from HR, Okta or SCIM
        without a mapping, beside the KooDrive users of the same name, to confirm
        {canUpload ? "" : " (admins)"}.
      </p>
      <form class="inline" method="get" action="/console/identities">
        <label>
          E-mail, email:&lt;e-mail&gt; or hr:&lt;HR id&gt;
          <input name="key" required maxlength={MAX_KEY_LENGTH} value={state.key ?? ""} />
        </label>
        <button type="submit">Look up</button>
      </form>
      {state.key !== undefined ? (
        state.entry ? (
          <dl class="facts" data-testid="identity">
            <dt>KooDrive user</dt>
            <dd>
              <code>{state.entry.koodriveUserId}</code>
            </dd>
            <dt>E-mail</dt>
            <dd>{state.entry.email ?? "-"}</dd>
            <dt>HR id</dt>
            <dd>{state.entry.hrId ?? "-"}</dd>
            <dt>Name</dt>
            <dd>{state.entry.name ?? "-"}</dd>
            <dt>Updated</dt>
            <dd>
              <Time iso={state.entry.updatedAt} /> by {state.entry.updatedBy}
            </dd>
          </dl>
        ) : (
          <Notice tone="warn">No identity for that key.</Notice>
        )
      ) : null}
      {state.loaded ? (
        <Notice tone="ok">
          Stored {state.loaded.stored} identities ({state.loaded.keys} keys): {state.loaded.added} added,{" "}
          {state.loaded.remapped} now point to another user, {state.loaded.updated} updated,{" "}
          {state.loaded.unchanged} unchanged.
        </Notice>
      ) : null}
      {state.errors ? (
        <Notice tone="bad">
          <p>{state.errors.message}: nothing was stored. Fix these rows and upload the file again.</p>
          <FieldErrorList errors={state.errors.details} />
        </Notice>
      ) : null}
      {canUpload ? (
        <form class="stack" method="post" action="/console/identities" enctype="multipart/form-data">
          <h2>Upload a CSV</h2>
          <p class="muted">
            Columns email and/or hrId, koodriveUserId, optional name (header row first; other columns are
            ignored). Every row is checked first: if any is wrong, nothing is stored.
          </p>
          <label>
            CSV file
            <input type="file" name="file" accept=".csv,text/csv" required />
          </label>
          <button type="submit">Upload</button>
        </form>
      ) : null}
    </Layout>,
    status,
  );
}

/** Identities: look one key up (viewers); upload a CSV (admins), through the API's own load function. */
export function identityPages() {
  const app = new Hono<AppEnv>();
  app.post("*", requireRole("admin"), limitBody(MAX_IDENTITY_UPLOAD_BYTES));

  app.get("/", async (c) => {
    const key = c.req.query("key")?.trim();
    if (!key) return render(c, {});
    if (key.length > MAX_KEY_LENGTH) throw new ApiError("bad_request", "that key is too long");
    const entry = await lookupIdentity(c.env, key);
    // A miss is an answer of the search, not a failed page: 200 with a notice saying so.
    return render(c, { key, entry });
  });

  app.post("/", async (c) => {
    const body = await readForm(c);
    const file = body.file;
    if (!(file instanceof File) || file.size === 0)
      return render(
        c,
        {
          errors: { message: "No file was sent", details: [{ path: "file", message: "choose a CSV file" }] },
        },
        422,
      );
    try {
      const csv = parseIdentityCsv(await file.text());
      const loaded = await loadIdentities(c, { identities: csv.identities }, csv.rows);
      return render(c, { loaded });
    } catch (err) {
      if (err instanceof ApiError && err.code === "invalid_body")
        return render(c, { errors: { message: err.message, details: err.details ?? [] } }, 422);
      throw err;
    }
  });

  return app;
}
