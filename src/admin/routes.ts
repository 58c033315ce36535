import type { Context } from "hono";
import { Hono } from "hono";
import * as z from "zod";
import { subjectKeyFor } from "../audit/keys";
import { decodeCursor, MAX_AUDIT_PAGE } from "../audit/store";
import type { AppEnv } from "../env";
import { ApiError, fieldErrors } from "../errors";
import { limitBody, validate } from "../http";
import { actionViews, evidenceView } from "../offboarding/action-view";
import { approvalRoutes } from "./approvals";
import { eventRoutes } from "./events";
import { EXPORT_PARTS, exportActions, exportRun } from "./export";
import { governorView, resetGovernor } from "./governor";
import { holdsRoutes } from "./holds";
import { identityRoutes } from "./identities";
import { offboardingRoutes, personRefOf, personText } from "./offboardings";
import { actorOf, requireRole, requireRoleFor } from "./principal";
import { ReindexQuery, reindexPage } from "./reindex";
import { confirmRun, retryRun } from "./run-actions";
import { loadRun, RunQuery, runView } from "./run-view";
import { listRuns, RunsQuery } from "./runs-list";
import { suggestionRoutes } from "./suggestions/routes";
import { tokenRoutes } from "./tokens/routes";

/**
 * `POST /runs/:id/retry`'s optional body: `handoverTo` names who receives the files (a run whose handover
 * found nobody, or the wrong person). An empty body is a plain retry, as before 0.4.
 */
export const RetryBody = z.strictObject({
  handoverTo: personText(
    "name who receives the files: an e-mail, a 19-digit KooDrive user id or an HR id",
  ).optional(),
});

export const ConfirmBody = z.object({
  koodriveUserId: z.string().regex(/^\d{19}$/, "must be the 19-digit KooDrive user id you confirm"),
});

/** A JSON body that may be absent (empty: `{}`); present, it must parse and match `schema` (else 422). */
async function optionalJson<T extends z.ZodType>(c: Context<AppEnv>, schema: T): Promise<z.output<T>> {
  const text = await c.req.text();
  let value: unknown = {};
  if (text.trim() !== "") {
    try {
      value = JSON.parse(text);
    } catch {
      throw new ApiError("invalid_body", "the request body is not JSON");
    }
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success)
    throw new ApiError("invalid_body", "the request body is invalid", fieldErrors(parsed.error.issues));
  return parsed.data;
}

export const ExportQuery = z.object({
  format: z.enum(["csv", "ndjson"]).default("csv"),
  part: z
    .enum(EXPORT_PARTS)
    .default("shares")
    .describe(
      "`shares` (every share and its outcome) or `actions` (each action's outcome and the evidence).",
    ),
});

export const AuditQuery = z
  .object({
    user: z.string().trim().min(1).max(320).optional(),
    since: z.iso.datetime({ offset: true }).optional(),
    until: z.iso.datetime({ offset: true }).optional(),
    limit: z.coerce.number().int().min(1).max(MAX_AUDIT_PAGE).default(50),
    cursor: z.string().max(4000).optional(),
  })
  .refine((q) => !q.cursor || safeCursor(q.cursor), { path: ["cursor"], message: "invalid cursor" });

function safeCursor(cursor: string): boolean {
  try {
    decodeCursor(cursor);
    return true;
  } catch {
    return false;
  }
}

/** The admin API: runs, exports, audit, retries, identities, holds. */
export function adminRoutes() {
  const app = new Hono<AppEnv>();
  // Roles (docs/security.md "Who can do what"): viewers read; operators also retry and confirm runs;
  // admins also change holds and the identity map, and manage API tokens.
  app.use("/runs", requireRole("viewer"));
  app.use("/runs/*", requireRole("viewer"));
  app.use("/runs/:runId/retry", requireRole("operator"));
  app.use("/runs/:runId/confirm", requireRole("operator"));
  app.use("/runs/reindex", requireRole("admin"));
  app.use("/offboardings", requireRole("operator"));
  app.use("/audit", requireRole("viewer"));
  app.use("/governor", requireRole("viewer"));
  app.use("/governor/reset", requireRole("admin"));
  for (const path of ["/identities", "/identities/*", "/holds", "/holds/*"])
    app.use(path, requireRoleFor("viewer", "admin"));
  for (const path of ["/tokens", "/tokens/*"]) app.use(path, requireRole("admin"));

  // The rate governor's state (docs/operations.md "The rate governor").
  app.get("/governor", async (c) => c.json(await governorView(c.env, c.var.config)));
  app.post("/governor/reset", async (c) => {
    const { before, after } = await resetGovernor(c.env, c.var.config);
    await c.var.audit.write({
      type: "admin.governor",
      ...actorOf(c),
      requestId: c.var.requestId,
      reason: "rate governor reset: the learned KooDrive limit is forgotten, the rate slow-starts again",
      details: {
        learnedLimit: before.enabled ? before.learnedLimit : null,
        rateBefore: before.enabled ? before.rate : null,
        rateAfter: after.enabled ? after.rate : null,
      },
    });
    return c.json(after);
  });

  app.get("/runs", validate("query", RunsQuery), async (c) =>
    c.json(await listRuns(c.env, c.req.valid("query"))),
  );

  app.post("/runs/reindex", validate("query", ReindexQuery), async (c) => {
    const report = await reindexPage(c.env, c.req.valid("query").cursor);
    await c.var.audit.write({
      type: "admin.reindex",
      ...actorOf(c),
      requestId: c.var.requestId,
      reason: `runs index filled from the audit trail: ${report.indexed} of ${report.runs} run(s) written`,
      details: {
        runs: report.runs,
        indexed: report.indexed,
        missing: report.missing,
        more: !!report.nextCursor,
      },
    });
    return c.json(report);
  });

  app.get("/runs/:runId", validate("query", RunQuery), async (c) =>
    c.json(await runView(c.env, c.req.param("runId"), c.req.valid("query"))),
  );

  app.get("/runs/:runId/export", validate("query", ExportQuery), async (c) => {
    const runId = c.req.param("runId");
    const { ledger, meta } = await loadRun(c.env, runId);
    const { format, part } = c.req.valid("query");
    await c.var.audit.write({
      type: "admin.export",
      ...actorOf(c),
      runId,
      requestId: c.var.requestId,
      subject: meta.request.subject,
      details: { format, part },
    });
    if (part === "actions")
      return exportActions(
        runId,
        actionViews(meta, await ledger.counts()),
        evidenceView(meta.evidence),
        format,
      );
    return exportRun(ledger, runId, format);
  });

  app.post("/runs/:runId/retry", limitBody(4 * 1024), async (c) => {
    const body = await optionalJson(c, RetryBody);
    const handoverTo = body.handoverTo
      ? { person: personRefOf(body.handoverTo), from: "request" as const }
      : undefined;
    return c.json(await retryRun(c, c.req.param("runId"), handoverTo), 202);
  });

  approvalRoutes(app);
  eventRoutes(app);

  // An operator confirms the name match a run waits for (RESOLVE_BY_NAME=confirm), naming the KooDrive id
  // they checked: only that id, once. Since 0.5 it is `approve` with that id (run-actions.ts).
  app.post("/runs/:runId/confirm", limitBody(4 * 1024), validate("json", ConfirmBody), async (c) =>
    c.json(await confirmRun(c, c.req.param("runId"), c.req.valid("json").koodriveUserId), 202),
  );

  app.get("/audit", validate("query", AuditQuery), async (c) => {
    const q = c.req.valid("query");
    const page = await c.var.audit
      .list({
        limit: q.limit,
        ...(q.user ? { subject: subjectKeyFor(q.user) } : {}),
        ...(q.since ? { since: q.since } : {}),
        ...(q.until ? { until: q.until } : {}),
        ...(q.cursor ? { cursor: q.cursor } : {}),
      })
      .catch((err: unknown) => {
        if (err instanceof RangeError) throw new ApiError("bad_request", "invalid cursor");
        throw err;
      });
    return c.json({ records: page.records, ...(page.cursor ? { nextCursor: page.cursor } : {}) });
  });

  // Before `/identities/:key`, which would otherwise take "suggestions" for a key.
  app.route("/identities/suggestions", suggestionRoutes());
  app.use("/identities", limitBody(5 * 1024 * 1024));
  app.route("/identities", identityRoutes());
  app.route("/offboardings", offboardingRoutes());
  app.use("/holds", limitBody(1024 * 1024));
  app.route("/holds", holdsRoutes());
  app.use("/tokens", limitBody(4 * 1024));
  app.route("/tokens", tokenRoutes());
  return app;
}
