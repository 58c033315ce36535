/** @jsxImportSource hono/jsx */
import { type Context, Hono } from "hono";
import * as z from "zod";
import { requireRole } from "../../admin/principal";
import { ROLES } from "../../admin/roles";
import { CreateTokenBody, issueToken, isTokenId, revokeToken, tokenStore } from "../../admin/tokens/routes";
import type { TokenInfo } from "../../admin/tokens/store";
import type { AppEnv } from "../../env";
import { ApiError, type FieldError } from "../../errors";
import { formFields, parseFields, queryOf } from "../http";
import { FieldErrorList, Layout, Notice, Time } from "../layout";

const SECTION = "/console/tokens";

/**
 * The expiry field is a date (`<input type="date">`): the token expires at the end of that day, UTC, so
 * "valid until 2027-01-31" means what it says wherever the admin is.
 */
const ExpiryDate = z
  .string()
  .trim()
  .regex(/^\d{4}-\d{2}-\d{2}$/, "must be a date (YYYY-MM-DD)")
  .transform((d) => `${d}T23:59:59.999Z`)
  .optional()
  .or(z.literal("").transform(() => undefined));

const CreateForm = z.object({
  name: z.string().trim(),
  role: z.string(),
  expires: ExpiryDate,
});

const Query = z.object({ notice: z.enum(["revoked"]).optional() });

interface ListState {
  values?: Record<string, string>;
  message?: string;
  errors?: FieldError[];
  status?: 200 | 409 | 422;
}

const TokenRows = ({ tokens }: { tokens: TokenInfo[] }) => (
  <div class="scroll">
    <table class="cards" data-testid="tokens">
      <caption class="muted">API tokens, newest first (the secret is never shown again)</caption>
      <thead>
        <tr>
          <th scope="col">Name</th>
          <th scope="col">Role</th>
          <th scope="col">Created by</th>
          <th scope="col">Created</th>
          <th scope="col">Expires</th>
          <th scope="col">Last used</th>
          <th scope="col">Action</th>
        </tr>
      </thead>
      <tbody>
        {tokens.map((t) => (
          <tr data-token-id={t.id}>
            <td data-label="Name">{t.name}</td>
            <td data-label="Role">{t.role}</td>
            <td data-label="Created by">{t.createdBy}</td>
            <td data-label="Created">
              <Time iso={t.createdAt} />
            </td>
            <td data-label="Expires">
              {t.expiresAt ? (
                <>
                  <Time iso={t.expiresAt} />
                  {Date.parse(t.expiresAt) <= Date.now() ? " (expired)" : ""}
                </>
              ) : (
                "never"
              )}
            </td>
            <td data-label="Last used">
              {t.lastUsedAt ? <Time iso={t.lastUsedAt} /> : <span class="muted">never</span>}
            </td>
            <td data-label="Action">
              <a href={`${SECTION}/${t.id}/revoke`}>
                Revoke<span class="vh">{` token ${t.name}`}</span>
              </a>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  </div>
);

async function renderList(c: Context<AppEnv>, state: ListState = {}) {
  const q = queryOf(c, Query);
  const tokens = await tokenStore(c.env).list();
  const v = state.values ?? {};
  return c.html(
    <Layout title="API tokens" section={SECTION} principal={c.var.principal} requestId={c.var.requestId}>
      {q.notice === "revoked" ? <Notice tone="ok">Token revoked: it is refused from now on.</Notice> : null}
      {state.message ? (
        <Notice tone="bad">
          <p>{state.message}</p>
          {state.errors?.length ? <FieldErrorList errors={state.errors} /> : null}
        </Notice>
      ) : null}
      <p class="muted">
        Tokens for automation: <code>Authorization: Bearer kdo_…</code> on the admin API, with the token's
        role. Each is stored only as a hash; revoking one refuses it on its next call.
      </p>
      <form class="stack" method="post" action={SECTION}>
        <h2>Create a token</h2>
        <label>
          Name (letters, digits, . _ -)
          <input
            name="name"
            required
            maxlength={64}
            pattern="[A-Za-z0-9][A-Za-z0-9._\-]{0,63}"
            autocomplete="off"
            value={v.name ?? ""}
          />
        </label>
        <label>
          Role
          <select name="role">
            {ROLES.map((r) => (
              <option value={r} selected={(v.role ?? "viewer") === r}>
                {r}
              </option>
            ))}
          </select>
        </label>
        <label>
          Expires (optional; at the end of that day, UTC)
          <input type="date" name="expires" value={v.expires ?? ""} />
        </label>
        <button type="submit">Create token</button>
      </form>
      <h2>Tokens</h2>
      {tokens.length === 0 ? <p>No API tokens.</p> : <TokenRows tokens={tokens} />}
    </Layout>,
    state.status ?? 200,
  );
}

/** API tokens (admins only): list, create (the secret shown once, in this answer), revoke after confirming. */
export function tokenPages() {
  const app = new Hono<AppEnv>();
  app.use(requireRole("admin"));

  app.get("/", (c) => renderList(c));

  app.post("/", async (c) => {
    const fields = await formFields(c);
    const form = parseFields(CreateForm, fields);
    const body = form.ok
      ? parseFields(CreateTokenBody, {
          name: form.value.name,
          role: form.value.role,
          ...(form.value.expires ? { expiresAt: form.value.expires } : {}),
        })
      : form;
    if (!body.ok)
      return renderList(c, {
        values: fields,
        status: 422,
        message: "The token was not created.",
        errors: body.errors.map((e) => (e.path === "expiresAt" ? { ...e, path: "expires" } : e)),
      });
    let created: Awaited<ReturnType<typeof issueToken>>;
    try {
      created = await issueToken(c, body.value);
    } catch (err) {
      if (err instanceof ApiError && err.code === "conflict")
        return renderList(c, { values: fields, status: 409, message: err.message });
      throw err;
    }
    // The secret is in this answer's body only: never in a URL, a redirect or a later page (no-store).
    return c.html(
      <Layout title="Token created" section={SECTION} principal={c.var.principal} requestId={c.var.requestId}>
        <Notice tone="ok">
          Token <strong>{created.name}</strong> ({created.role}) created
          {created.expiresAt ? (
            <>
              , valid until <Time iso={created.expiresAt} />
            </>
          ) : null}
          .
        </Notice>
        <label>
          The token (shown only now)
          <input
            class="mono secret"
            readonly
            value={created.token}
            size={60}
            data-testid="new-token"
            aria-describedby="copy-hint"
          />
        </label>
        <p id="copy-hint">
          <strong>Copy it now</strong> (select the field, then Ctrl+C or ⌘C) and keep it in your secret store:
          it is stored only as a hash and cannot be shown again. If it is lost, revoke it and create another.
        </p>
        <p>
          <a href={SECTION}>Back to the tokens</a>
        </p>
      </Layout>,
      201,
    );
  });

  app.get("/:id/revoke", async (c) => {
    const id = c.req.param("id");
    const token = isTokenId(id) ? (await tokenStore(c.env).list()).find((t) => t.id === id) : undefined;
    if (!token) throw new ApiError("not_found", `no token ${id.slice(0, 80)}`);
    return c.html(
      <Layout
        title="Revoke this token?"
        section={SECTION}
        principal={c.var.principal}
        requestId={c.var.requestId}
      >
        <p>
          Token <strong>{token.name}</strong> (role {token.role}, created by {token.createdBy}) is refused
          from its next call on: whatever uses it stops working. This cannot be undone.
        </p>
        <form method="post" action={`${SECTION}/${id}/revoke`}>
          <input type="hidden" name="confirmed" value="yes" />
          <button type="submit" class="danger">
            Revoke {token.name}
          </button>{" "}
          <a href={SECTION}>Keep it</a>
        </form>
      </Layout>,
    );
  });

  app.post("/:id/revoke", async (c) => {
    const id = c.req.param("id");
    if (!isTokenId(id)) throw new ApiError("not_found", "no such token");
    const form = await formFields(c);
    if (form.confirmed !== "yes") return c.redirect(`${SECTION}/${id}/revoke`, 303);
    await revokeToken(c, id);
    return c.redirect(`${SECTION}?notice=revoked`, 303);
  });

  return app;
}
