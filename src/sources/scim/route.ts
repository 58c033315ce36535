import { type Context, Hono } from "hono";
import type * as z from "zod";
import { notePeopleSeen } from "../../admin/suggestions/record";
import { type AuthSpec, authenticate } from "../../auth";
import { type AppEnv, sourceSecrets } from "../../env";
import { answerFor, fieldErrors } from "../../errors";
import { limitBody, parseJsonBody, rawBody } from "../../http";
import { startDeprovisioning } from "./deprovision";
import type { ScimDirectory } from "./directory";
import { SCIM_JSON, ScimError, scimErrorResponse } from "./errors";
import { parseFilter } from "./filter";
import { drainReactivation } from "./reactivate";
import {
  attributesFrom,
  canonicalKeys,
  LIST_SCHEMA,
  PatchRequest,
  patchKeys,
  type ScimFailure,
  type ScimUser,
  type ScimWrite,
  USER_SCHEMA,
  UserInput,
  withoutPasswords,
} from "./schema";
import { subjectOf } from "./subject";
import { verifyScimBearer } from "./verify";

/** SCIM requests are single users; anything over 64 KiB is refused before any work. */
export const MAX_SCIM_BODY_BYTES = 64 * 1024;
const SOURCE = "scim";
const MAX_PAGE = 200;
/** The header naming the run a deprovisioning started (for the IdP's logs and for admins). */
export const RUN_HEADER = "x-offboard-run-id";

type Methods =
  | "get"
  | "find"
  | "create"
  | "replace"
  | "patch"
  | "prepareDelete"
  | "remove"
  | "runStarted"
  | "outboxDone";
/**
 * The directory's RPC surface with its plain types (the generated stub types cannot express the free-form
 * SCIM attributes, which are JSON and serialise as such).
 */
type Directory = {
  [K in Methods]: (...args: Parameters<ScimDirectory[K]>) => Promise<ReturnType<ScimDirectory[K]>>;
};
const directory = (c: Context<AppEnv>) => c.env.SCIM.getByName("directory") as unknown as Directory;

/**
 * A bearer token from `SCIM_BEARER_TOKENS` (off without one); errors are SCIM errors. The body is left to
 * each route (its `limitBody` comes first).
 */
const SCIM_AUTH: AuthSpec<readonly string[], Record<never, never>> = {
  source: SOURCE,
  secrets: (config) =>
    sourceSecrets(
      config.SCIM_BEARER_TOKENS,
      new ScimError("not_found", "SCIM is not enabled (set SCIM_BEARER_TOKENS)"),
    ),
  verify: verifyScimBearer,
  unauthorized: () => new ScimError("unauthorized", "missing or wrong bearer token"),
  body: "none",
};

function scimJson(
  c: Context<AppEnv>,
  body: unknown,
  status: 200 | 201 = 200,
  headers: Record<string, string> = {},
) {
  return c.body(JSON.stringify(body), status, { "content-type": SCIM_JSON, ...headers });
}

function resource(c: Context<AppEnv>, user: ScimUser) {
  const location = `${new URL(c.req.url).origin}/scim/v2/Users/${encodeURIComponent(user.id)}`;
  return {
    // The directory stores no password; dropped here too, as RFC 7643 4.1.1 says it is never returned.
    ...withoutPasswords(user.attributes),
    schemas: [USER_SCHEMA],
    id: user.id,
    meta: {
      resourceType: "User",
      created: user.created,
      lastModified: user.lastModified,
      location,
      version: `W/"${user.version}"`,
    },
  };
}

function unwrap<T extends object>(result: T | ScimFailure): T {
  if ("error" in result) {
    const { code, message, scimType } = result.error;
    throw new ScimError(code, message, scimType);
  }
  return result;
}

async function readJson(c: Context<AppEnv>): Promise<unknown> {
  const body = await rawBody(c);
  try {
    return parseJsonBody(body);
  } catch (err) {
    throw new ScimError("bad_request", err instanceof Error ? err.message : "invalid JSON", "invalidSyntax");
  }
}

/** SCIM answers an invalid body with 400 and a scimType (RFC 7644 3.12), naming the first bad field. */
function parseOrFail<T>(schema: z.ZodType<T>, json: unknown, scimType: string): T {
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const first = fieldErrors(parsed.error.issues)[0];
    throw new ScimError("bad_request", `invalid ${first?.path ?? "body"}: ${first?.message ?? ""}`, scimType);
  }
  return parsed.data;
}

function intParam(
  value: string | undefined,
  fallback: number,
  min: number,
  max: number,
  name: string,
): number {
  if (value === undefined || value === "") return fallback;
  const n = Number(value);
  if (!Number.isInteger(n)) throw new ScimError("bad_request", `${name} must be an integer`, "invalidValue");
  return Math.min(max, Math.max(min, n));
}

/**
 * After a write: writes its audit record (committed in the directory's outbox with the write) and confirms
 * it, so the directory's alarm need not. If KV fails here, the answer still reflects the committed write and
 * the alarm writes the record within a minute.
 */
async function record(c: Context<AppEnv>, write: ScimWrite): Promise<void> {
  // The user, if the identity map does not know them, may become a suggested match (after the answer).
  notePeopleSeen(c, SOURCE, [subjectOf(write.user.id, write.user.attributes)]);
  if (write.audit.length === 0) return;
  try {
    for (const { record } of write.audit) await c.var.audit.write(record);
    await directory(c).outboxDone(write.audit.map((p) => p.seq));
  } catch (err) {
    console.error(
      JSON.stringify({
        level: "error",
        msg: "scim audit left to the directory's alarm",
        requestId: c.var.requestId,
        error: String(err),
      }),
    );
  }
}

/**
 * After a write: if the user is deprovisioned (inactive after a deactivation), starts its run and tells the
 * directory, whose alarm otherwise starts it (a crash between the write and this call loses nothing).
 */
async function deprovision(
  c: Context<AppEnv>,
  write: ScimWrite,
  how: string,
): Promise<Record<string, string>> {
  if (write.deprovision === null) return {};
  const { runId } = await startDeprovisioning(
    c.env,
    c.var.audit,
    write.user,
    write.deprovision,
    how,
    c.var.requestId,
    (id) => directory(c).get(id),
  );
  await directory(c).runStarted(write.user.id, write.deprovision);
  return { [RUN_HEADER]: runId };
}

/**
 * After a write that set an inactive user active again: withdraws the person's waiting runs (issue 11: a
 * rehire or an HR mistake must not revoke anything later) after the answer, then confirms the directory's
 * outbox entry, committed with the write. Should that fail or the Worker die first, the directory's alarm
 * withdraws them a minute later (retried every minute until it succeeds). The IdP's answer is unchanged.
 */
function reactivate(c: Context<AppEnv>, write: ScimWrite): void {
  const pending = write.reactivation;
  if (!pending) return;
  const dir = directory(c);
  c.executionCtx.waitUntil(
    drainReactivation(c.env, c.var.audit, pending, (seqs) => dir.outboxDone(seqs), "the directory's alarm"),
  );
}

/**
 * `/scim/v2`: a SCIM 2.0 service provider for Users, as much as deprovisioning needs (Okta, Entra ID). A
 * user set to `active: false` (PATCH with or without a path, or PUT) or deleted while active starts one
 * run for that person; a user set active again withdraws that person's waiting runs (after the answer, through
 * the directory's outbox). Every error under `/scim/v2`, an unknown path included, is rendered here as a SCIM
 * error (`application/scim+json`, RFC 7644 3.12) that also carries our envelope.
 */
export function scimRoutes() {
  const app = new Hono<AppEnv>();
  // Mounted with `app.route`, a sub-app keeps its onError (Hono wraps each of its handlers with it), but not
  // its notFound: the catch-all route at the end answers unknown paths.
  app.onError((err, c) => {
    const id = c.var.requestId ?? "unknown";
    return scimErrorResponse(answerFor(err, id), id);
  });
  const notFound = (c: Context<AppEnv>) => {
    throw new ScimError("not_found", `no route for ${c.req.method} ${c.req.path}`);
  };
  app.notFound(notFound);
  app.use(authenticate(SCIM_AUTH));

  app.get("/ServiceProviderConfig", (c) =>
    scimJson(c, {
      schemas: ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
      patch: { supported: true },
      bulk: { supported: false, maxOperations: 0, maxPayloadSize: 0 },
      filter: { supported: true, maxResults: MAX_PAGE },
      changePassword: { supported: false },
      sort: { supported: false },
      etag: { supported: false },
      authenticationSchemes: [
        { type: "oauthbearertoken", name: "Bearer token", description: "Authorization: Bearer <token>" },
      ],
    }),
  );

  app.get("/Users", async (c) => {
    const filter = parseFilter(c.req.query("filter"));
    const startIndex = intParam(c.req.query("startIndex"), 1, 1, Number.MAX_SAFE_INTEGER, "startIndex");
    const count = intParam(c.req.query("count"), 100, 0, MAX_PAGE, "count");
    const { total, users } = await directory(c).find(filter, startIndex, count);
    return scimJson(c, {
      schemas: [LIST_SCHEMA],
      totalResults: total,
      startIndex,
      itemsPerPage: users.length,
      Resources: users.map((u) => resource(c, u)),
    });
  });

  app.post("/Users", limitBody(MAX_SCIM_BODY_BYTES), async (c) => {
    const input = parseOrFail(UserInput, canonicalKeys(await readJson(c)), "invalidValue");
    const write = unwrap(await directory(c).create(attributesFrom(input), c.var.requestId));
    await record(c, write);
    const body = resource(c, write.user);
    return scimJson(c, body, 201, { location: body.meta.location });
  });

  app.get("/Users/:id", async (c) => {
    const user = await directory(c).get(c.req.param("id"));
    if (!user) throw new ScimError("not_found", "no such user");
    return scimJson(c, resource(c, user));
  });

  app.put("/Users/:id", limitBody(MAX_SCIM_BODY_BYTES), async (c) => {
    const input = parseOrFail(UserInput, canonicalKeys(await readJson(c)), "invalidValue");
    // A PUT that leaves `active` out keeps the current value (it must not reactivate a leaver).
    const write = unwrap(
      await directory(c).replace(
        c.req.param("id"),
        attributesFrom(input),
        input.active !== undefined,
        c.var.requestId,
      ),
    );
    await record(c, write);
    reactivate(c, write);
    return scimJson(c, resource(c, write.user), 200, await deprovision(c, write, "PUT active=false"));
  });

  app.patch("/Users/:id", limitBody(MAX_SCIM_BODY_BYTES), async (c) => {
    const patch = parseOrFail(PatchRequest, patchKeys(await readJson(c)), "invalidSyntax");
    const write = unwrap(await directory(c).patch(c.req.param("id"), patch.Operations, c.var.requestId));
    await record(c, write);
    reactivate(c, write);
    return scimJson(c, resource(c, write.user), 200, await deprovision(c, write, "PATCH active=false"));
  });

  app.delete("/Users/:id", async (c) => {
    const id = c.req.param("id");
    const write = unwrap(await directory(c).prepareDelete(id, c.var.requestId));
    await record(c, write);
    // The run starts before the user is removed: a DELETE retried after a failure here still finds it.
    const headers = await deprovision(c, write, "DELETE");
    await directory(c).remove(id);
    return c.body(null, 204, headers);
  });

  app.all("*", notFound);
  return app;
}
