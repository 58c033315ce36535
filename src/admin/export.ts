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
] as const;

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
