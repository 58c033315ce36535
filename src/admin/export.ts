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
 * CSV field: quoted when needed, and cells starting with = + - @ (or tab/CR) prefixed with a quote so a
 * spreadsheet never runs a share name as a formula (OWASP "CSV injection").
 */
export function csvField(value: unknown): string {
  let s = value === undefined || value === null ? "" : String(value);
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
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
