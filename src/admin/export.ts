import { type ActionView, actionLine, type EvidenceView, taskStatusName } from "../offboarding/action-view";
import type { RunLedger } from "../offboarding/ledger";
import type { ShareRow } from "../offboarding/types";

/** Rows fetched from the ledger per page while streaming an export. */
const EXPORT_PAGE = 1000;

const COLUMNS = [
  "runId",
  "shareId",
  "scope",
  "displayName",
  "linkUrl",
  "shortUrl",
  "expireTime",
  "shareStatus",
  "state",
  "reason",
  "code",
  "msg",
  "attempts",
  "updatedAt",
  // Found by the watch after the run's main actions (issue 10); empty for runs before 0.4.
  "late",
] as const;

/**
 * The actions part (`part=actions`): one row per requested action, in the order they run (issue 10).
 * KooDrive's audit-log evidence is the proof of the cancels, so its columns are filled on the
 * `revoke_shares` row (on the first row if the run did not revoke shares).
 */
const ACTION_COLUMNS = [
  "runId",
  "action",
  "state",
  "detail",
  "updatedAt",
  "recipient",
  "recipientName",
  "recipientFoundBy",
  "tasks",
  "blockedAt",
  "schedule",
  "checksDone",
  "nextCheck",
  "lateShares",
  "endedBy",
  "summary",
  "evidenceFound",
  "evidenceOf",
  "evidenceEntriesRead",
  "evidenceComplete",
  "evidence",
] as const;

export const EXPORT_PARTS = ["shares", "actions"] as const;
export type ExportPart = (typeof EXPORT_PARTS)[number];

/**
 * Where a spreadsheet may start a new cell, and so evaluate what follows as a formula: the start of the
 * field, and after any separator a locale uses (`,`, `;` in many European locales, tab) or a line break,
 * because a reader that ignores quotes, or guesses another separator, splits the field there.
 * A segment whose text (after spaces) starts with `=`, `+`, `-` or `@` gets a `'` in front.
 * @see https://owasp.org/www-community/attacks/CSV_Injection
 */
const FORMULA_SEGMENT = /(^|[,;\t\r\n])(?=[ ]*[=+\-@])/g;
/** A field starting with a character a spreadsheet may strip before reading a formula (OWASP; NUL: ASVS 1.2.10). */
const LEADING_STRIPPED = /^[\t\r\n\0]/;
/** Any separator of any locale, a quote or a line break: the field is quoted (RFC 4180 section 2.6, 2.7). */
const NEEDS_QUOTES = /[",;\t\r\n]/;

/**
 * One CSV field, safe to open in Excel, LibreOffice or Google Sheets whatever the locale's separator
 * (CSV / formula injection, OWASP): every formula trigger at the start of the field or of a segment
 * after `,` `;` tab or a line break is prefixed with `'`; a field that was prefixed or holds a separator,
 * a quote or a line break is quoted, with quotes doubled. Numbers and booleans come from our own typed
 * columns and are written as they are.
 */
export function csvField(value: unknown): string {
  if (value === undefined || value === null) return "";
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  const text = String(value);
  let safe = text.replace(FORMULA_SEGMENT, "$1'");
  if (LEADING_STRIPPED.test(safe)) safe = `'${safe}`;
  return safe !== text || NEEDS_QUOTES.test(text) ? `"${safe.replaceAll('"', '""')}"` : safe;
}

/** Which action row carries the evidence columns (see ACTION_COLUMNS). */
function evidenceRow(actions: ActionView[]): number {
  return Math.max(
    0,
    actions.findIndex((a) => a.action === "revoke_shares"),
  );
}

/**
 * A run's actions and evidence as CSV or NDJSON (at most four rows: built in memory). CSV flattens the
 * handover tasks (`<taskId>:<STATUS>[:<resultCode>]`, `;`-separated) and the watch schedule (ISO times,
 * space-separated); NDJSON keeps them as they are, with the evidence object on its row.
 */
export function exportActions(
  runId: string,
  actions: ActionView[],
  evidence: EvidenceView | null,
  format: "csv" | "ndjson",
): Response {
  const at = evidenceRow(actions);
  const body =
    format === "csv"
      ? [
          ACTION_COLUMNS.join(","),
          ...actions.map((a, i) => {
            const e = i === at ? evidence : null;
            const record: Record<(typeof ACTION_COLUMNS)[number], unknown> = {
              runId,
              action: a.action,
              state: a.state,
              detail: a.detail,
              updatedAt: a.updatedAt,
              recipient: a.recipient?.koodriveUserId,
              recipientName: a.recipient?.name,
              recipientFoundBy: a.recipient?.foundBy,
              tasks: a.tasks
                ?.map((t) =>
                  [t.taskId, taskStatusName(t.status), ...(t.resultCode ? [t.resultCode] : [])].join(":"),
                )
                .join(";"),
              blockedAt: a.blockedAt,
              schedule: a.schedule?.join(" "),
              checksDone: a.checksDone,
              nextCheck: a.nextCheck,
              lateShares: a.lateShares,
              endedBy: a.endedBy,
              summary: actionLine(a),
              evidenceFound: e?.found,
              evidenceOf: e?.of,
              evidenceEntriesRead: e?.entriesRead,
              evidenceComplete: e?.complete,
              evidence: e?.summary,
            };
            return ACTION_COLUMNS.map((col) => csvField(record[col])).join(",");
          }),
        ]
          .map((line) => `${line}\r\n`)
          .join("")
      : actions
          .map(
            (a, i) =>
              `${JSON.stringify({ runId, ...a, summary: actionLine(a), ...(i === at && evidence ? { evidence } : {}) })}\n`,
          )
          .join("");
  return new Response(body, {
    headers: {
      "content-type": format === "csv" ? "text/csv; charset=utf-8" : "application/x-ndjson",
      "content-disposition": `attachment; filename="${runId}-actions.${format === "csv" ? "csv" : "ndjson"}"`,
    },
  });
}

/** Streams every share of a run as CSV or NDJSON, page by page from the ledger (constant memory). */
export function exportRun(
  ledger: DurableObjectStub<RunLedger>,
  runId: string,
  format: "csv" | "ndjson",
): Response {
  const encoder = new TextEncoder();
  let after = "";
  let headerSent = false;
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (format === "csv" && !headerSent) {
        headerSent = true;
        controller.enqueue(encoder.encode(`${COLUMNS.join(",")}\r\n`));
        return;
      }
      const rows: ShareRow[] = await ledger.shares(after, EXPORT_PAGE);
      if (rows.length === 0) {
        controller.close();
        return;
      }
      after = rows[rows.length - 1]?.shareId ?? after;
      const text = rows
        .map((row) => {
          const record = { runId, ...row };
          return format === "csv"
            ? `${COLUMNS.map((col) => csvField(record[col])).join(",")}\r\n`
            : `${JSON.stringify(record)}\n`;
        })
        .join("");
      controller.enqueue(encoder.encode(text));
    },
  });
  return new Response(stream, {
    headers: {
      "content-type": format === "csv" ? "text/csv; charset=utf-8" : "application/x-ndjson",
      "content-disposition": `attachment; filename="${runId}.${format === "csv" ? "csv" : "ndjson"}"`,
    },
  });
}
