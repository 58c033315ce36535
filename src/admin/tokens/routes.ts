import { type Context, Hono } from "hono";
import * as z from "zod";
import type { AppEnv } from "../../env";
import { ApiError } from "../../errors";
import { validate } from "../../http";
import { actorOf } from "../principal";
import { ROLES } from "../roles";
import { MAX_LIVE_TOKENS, type TokenInfo } from "./store";
import { newToken, tokenHash } from "./token";

/** A token's name: short, and safe to put in an audit actor (`token:<name> (<id>)`), a log line or a CSV. */
export const TOKEN_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/** Token ids are UUIDs (`crypto.randomUUID`). */
const TOKEN_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export const CreateTokenBody = z.object({
  name: z
    .string()
    .regex(TOKEN_NAME, "1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit"),
  role: z.enum(ROLES),
  expiresAt: z.iso
    .datetime({ offset: true })
    .refine((v) => Date.parse(v) > Date.now(), "must be in the future")
    .optional(),
});

/** The store: one instance, strongly consistent. */
export const tokenStore = (env: AppEnv["Bindings"]) => env.TOKENS.getByName("tokens");

/** The audit details of a token: never its secret or hash. */
const auditDetails = (t: TokenInfo) => ({
  tokenId: t.id,
  name: t.name,
  role: t.role,
  expiresAt: t.expiresAt,
});

/**
 * Creates a token for the verified actor of `c` and audits it: the token info and the secret, which the
 * caller shows once (it is stored only as its hash). Shared by `POST /tokens` and the console.
 */
export async function issueToken(
  c: Context<AppEnv>,
  body: z.output<typeof CreateTokenBody>,
): Promise<TokenInfo & { token: string }> {
  const who = actorOf(c);
  const token = newToken();
  const created = await tokenStore(c.env).create({
    id: crypto.randomUUID(),
    hash: await tokenHash(token),
    name: body.name,
    role: body.role,
    createdBy: who.actor,
    expiresAt: body.expiresAt ? new Date(body.expiresAt).toISOString() : null,
  });
  if ("refused" in created)
    throw created.refused === "full"
      ? new ApiError("conflict", `at most ${MAX_LIVE_TOKENS} tokens can be live: revoke one first`)
      : new ApiError("conflict", `a live token is already named ${body.name}`);
  await c.var.audit.write({
    type: "admin.tokens",
    ...who,
    requestId: c.var.requestId,
    status: "created",
    reason: `API token ${created.name} created (${created.role})`,
    details: auditDetails(created),
  });
  return { ...created, token };
}

/** Revokes a token at once and audits it (404 for an unknown id). Shared by the API and the console. */
export async function revokeToken(c: Context<AppEnv>, id: string): Promise<TokenInfo> {
  const revoked = TOKEN_ID.test(id) ? await tokenStore(c.env).revoke(id) : undefined;
  if (!revoked) throw new ApiError("not_found", `no token ${id.slice(0, 80)}`);
  await c.var.audit.write({
    type: "admin.tokens",
    ...actorOf(c),
    requestId: c.var.requestId,
    status: "revoked",
    reason: `API token ${revoked.name} revoked`,
    details: auditDetails(revoked),
  });
  return revoked;
}

/** Whether `id` has the shape of a token id. */
export const isTokenId = (id: string) => TOKEN_ID.test(id);

/** `POST /tokens` (shown once), `GET /tokens`, `DELETE /tokens/:id`; admins only (admin/routes.ts). */
export function tokenRoutes() {
  const app = new Hono<AppEnv>();

  // The only time the token is shown: it is stored as a hash.
  app.post("/", validate("json", CreateTokenBody), async (c) =>
    c.json(await issueToken(c, c.req.valid("json")), 201),
  );

  app.get("/", async (c) => c.json({ tokens: await tokenStore(c.env).list() }));

  app.delete("/:id", async (c) => c.json({ revoked: await revokeToken(c, c.req.param("id")) }));

  return app;
}
