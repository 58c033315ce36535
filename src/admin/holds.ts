import { type Context, Hono } from "hono";
import * as z from "zod";
import type { AppEnv } from "../env";
import { ApiError } from "../errors";
import { validate } from "../http";
import {
  type Hold,
  type HoldsChanged,
  type HoldsRefused,
  holdKey,
  MAX_HOLDS,
  type Precondition,
} from "../offboarding/holds";
import { actorOf } from "./principal";

/** Holds one `POST /holds` may add: "one or a few"; a whole list is a `PUT`. */
export const MAX_HOLDS_PER_POST = 100;
/**
 * Hold changes named in one audit record; a larger change is written as several records (`part` of
 * `parts`), like the 100-share records of a run. 50 changes with 500-character reasons stay under 30 KB.
 */
export const MAX_HOLD_CHANGES_PER_RECORD = 50;

/** One hold as an admin gives it (the API's body and the console's form). */
export const HoldInput = z.object({
  type: z.enum(["user", "share"]),
  id: z.string().regex(/^\d{19}$/, "must be a 19-digit KooDrive id"),
  reason: z.string().trim().min(1, "say why (e.g. legal hold ref)").max(500),
});
type HoldInput = z.infer<typeof HoldInput>;

/** A list naming one hold twice is ambiguous (which reason?): refused. */
const noDuplicates = (holds: HoldInput[], ctx: z.RefinementCtx) => {
  const seen = new Set<string>();
  for (const [i, h] of holds.entries()) {
    if (seen.has(holdKey(h)))
      ctx.addIssue({ code: "custom", path: ["holds", i], message: `${holdKey(h)} is listed twice` });
    seen.add(holdKey(h));
  }
};

export const PutHoldsBody = z
  .object({ holds: z.array(HoldInput).max(MAX_HOLDS) })
  .superRefine((b, ctx) => noDuplicates(b.holds, ctx));
export const PostHoldsBody = z
  .union([
    HoldInput.transform((h) => ({ holds: [h] })),
    z.object({ holds: z.array(HoldInput).min(1).max(MAX_HOLDS_PER_POST) }),
  ])
  .superRefine((b, ctx) => noDuplicates(b.holds, ctx));
export const HoldParams = z.object({
  type: z.enum(["user", "share"]),
  id: z.string().regex(/^\d{19}$/, "must be a 19-digit KooDrive id"),
});

/** The entity tag of a version: `"7"`. */
const etagOf = (version: number) => `"${version}"`;

/**
 * Reads `If-Match` (RFC 9110 section 13.1.1): `*`, or a list of entity tags. Ours are `"<version>"`; a weak
 * `W/"7"` also names version 7, because Cloudflare weakens the ETag of a response it compresses and a client
 * sends back what it got (the tag names a version of the list, not a byte encoding). A bare `7` is
 * accepted too. A tag that is not one of ours matches nothing (412). Undefined when the header is absent.
 */
export function parseIfMatch(header: string | undefined): Precondition {
  if (header === undefined || header.trim() === "") return undefined;
  if (header.trim() === "*") return "*";
  return header
    .split(",")
    .map((tag) => /^(?:W\/)?"?(\d{1,15})"?$/.exec(tag.trim())?.[1])
    .filter((v): v is string => v !== undefined)
    .map(Number);
}

/** Turns a refused change into its answer (412 stale, 409 full, 404 absent). */
export function refusal(r: HoldsRefused, what: string): ApiError {
  if (r.refused === "stale")
    return new ApiError(
      "precondition_failed",
      `the holds changed since you read them (now version ${r.version}): GET /holds and apply your change again`,
    );
  if (r.refused === "full") return new ApiError("conflict", `at most ${MAX_HOLDS} holds can be kept`);
  return new ApiError("not_found", `no hold ${what}`);
}

type Change =
  | { change: "added" | "removed"; hold: string; reason: string }
  | { change: "updated"; hold: string; reason: string; previousReason: string };

/** The changes as named in the audit: which holds (type:id) and their reasons. */
function holdChanges(r: Pick<HoldsChanged, "added" | "removed" | "updated">): Change[] {
  return [
    ...r.added.map((h) => ({ change: "added" as const, hold: holdKey(h), reason: h.reason })),
    ...r.removed.map((h) => ({ change: "removed" as const, hold: holdKey(h), reason: h.reason })),
    ...r.updated.map((h) => ({
      change: "updated" as const,
      hold: holdKey(h),
      reason: h.reason,
      previousReason: h.previousReason,
    })),
  ];
}

/** The holds store (one Durable Object instance): the API and the console change holds only through it. */
export const holdsStore = (env: AppEnv["Bindings"]) => env.HOLDS.getByName("holds");

/**
 * Audits a change naming every hold added, removed or updated, in records of at most 50 changes, with the
 * precondition it was made under (the API's `If-Match`, or the version the console displayed).
 */
export async function auditChange(
  c: Context<AppEnv>,
  reason: string,
  r: HoldsChanged,
  ifMatch: string | undefined = c.req.header("if-match"),
) {
  const changes = holdChanges(r);
  const parts = Math.max(1, Math.ceil(changes.length / MAX_HOLD_CHANGES_PER_RECORD));
  const records = Array.from({ length: parts }, (_, part) => ({
    type: "admin.holds" as const,
    ...actorOf(c),
    requestId: c.var.requestId,
    reason,
    details: {
      version: r.version,
      added: r.added.length,
      removed: r.removed.length,
      updated: r.updated.length,
      total: r.total,
      ifMatch: ifMatch ? ifMatch.slice(0, 100) : null,
      part: part + 1,
      parts,
      changes: JSON.stringify(
        changes.slice(part * MAX_HOLD_CHANGES_PER_RECORD, (part + 1) * MAX_HOLD_CHANGES_PER_RECORD),
      ),
    },
  }));
  // Bounded concurrency: a 10,000-hold replace is at most 400 records.
  for (let i = 0; i < records.length; i += 50)
    await Promise.all(records.slice(i, i + 50).map((record) => c.var.audit.write(record)));
}

/**
 * `GET /holds` lists the holds with their version (also the `ETag`); `PUT /holds` replaces them all and
 * needs `If-Match` with that version (428 without, 412 when stale); `POST /holds` adds or updates one or a
 * few; `DELETE /holds/:type/:id` removes one. `POST` and `DELETE` touch only the holds they name, so they
 * need no `If-Match` (one given is checked).
 */
export function holdsRoutes() {
  const app = new Hono<AppEnv>();
  const store = holdsStore;
  const setEtag = (c: Context<AppEnv>, version: number) => c.header("etag", etagOf(version));

  app.get("/", async (c) => {
    const { version, holds } = await store(c.env).read();
    setEtag(c, version);
    return c.json({ version, holds });
  });

  app.put(
    "/",
    async (c, next) => {
      // Checked before the body: a client that never sends If-Match learns it first (RFC 6585 section 3).
      if (parseIfMatch(c.req.header("if-match")) === undefined)
        throw new ApiError(
          "precondition_required",
          "PUT /holds replaces every hold: send If-Match with the version from GET /holds (or If-Match: * to overwrite whatever is there)",
        );
      await next();
    },
    validate("json", PutHoldsBody),
    async (c) => {
      const actor = actorOf(c).actor;
      const { holds } = c.req.valid("json");
      const result = await store(c.env).replace(
        holds.map((h) => ({ ...h, createdBy: actor })),
        parseIfMatch(c.req.header("if-match")),
      );
      if (!result.ok) throw refusal(result, "");
      await auditChange(c, "holds replaced", result);
      setEtag(c, result.version);
      return c.json({
        version: result.version,
        added: result.added.length,
        removed: result.removed.length,
        updated: result.updated.length,
        total: result.total,
        holds: (await store(c.env).read()).holds,
      });
    },
  );

  app.post("/", validate("json", PostHoldsBody), async (c) => {
    const actor = actorOf(c).actor;
    const { holds } = c.req.valid("json");
    const result = await store(c.env).add(
      holds.map((h) => ({ ...h, createdBy: actor })),
      parseIfMatch(c.req.header("if-match")),
    );
    if (!result.ok) throw refusal(result, "");
    await auditChange(c, "holds added", result);
    setEtag(c, result.version);
    const named = new Set(holds.map(holdKey));
    const now: Hold[] = (await store(c.env).read()).holds.filter((h) => named.has(holdKey(h)));
    return c.json({
      version: result.version,
      added: result.added.length,
      updated: result.updated.length,
      total: result.total,
      holds: now,
    });
  });

  app.delete("/:type/:id", validate("param", HoldParams), async (c) => {
    const { type, id } = c.req.valid("param");
    const result = await store(c.env).remove(type, id, parseIfMatch(c.req.header("if-match")));
    if (!result.ok) throw refusal(result, `${type}:${id}`);
    await auditChange(c, "hold removed", result);
    setEtag(c, result.version);
    return c.json({ version: result.version, removed: result.removed[0], total: result.total });
  });

  return app;
}
