import Papa, { type ParseError } from "papaparse";
import { ApiError, type FieldError } from "../errors";

/**
 * The columns an identity row may carry, by their canonical (JSON) names. Any other column is ignored, so an
 * HR system's export can be sent as it is.
 */
export const IDENTITY_COLUMNS = ["email", "hrId", "koodriveUserId", "name"] as const;
export type IdentityColumn = (typeof IDENTITY_COLUMNS)[number];

/** Header names match ignoring case, spaces, `_` and `-`: `Email`, `HRID`, `hr_id`, `KooDrive User ID`. */
const fold = (header: string) => header.toLowerCase().replace(/[\s_-]+/g, "");
const COLUMN_BY_FOLDED = new Map<string, IdentityColumn>(IDENTITY_COLUMNS.map((c) => [fold(c), c]));

/** Syntax errors listed in one answer: enough to fix a file, never a wall of text. */
const MAX_REPORTED_ERRORS = 10;

/** The rows of an identity CSV as objects keyed by column, with where each came from. */
export interface IdentityCsv {
  identities: Array<Partial<Record<IdentityColumn, string>>>;
  /**
   * The row number of each identity as a spreadsheet shows it (the header is row 1; empty rows count,
   * a quoted line break does not start a row), to name the row in an error.
   */
  rows: number[];
}

const invalid = (message: string, details: FieldError[]) => new ApiError("invalid_body", message, details);

/** 1-based line of a character offset (CRLF, LF and CR each end a line). */
function lineAt(text: string, index: number): number {
  return (text.slice(0, index).match(/\r\n|\r|\n/g)?.length ?? 0) + 1;
}

function syntaxError(text: string, e: ParseError): FieldError {
  const what =
    e.code === "MissingQuotes"
      ? 'a field opened with " is never closed'
      : e.code === "InvalidQuotes"
        ? 'text follows a closing " in the same field (write a quote inside a quoted field as "")'
        : e.message;
  const line = e.index === undefined ? "" : ` (line ${lineAt(text, e.index)})`;
  return { path: e.row === undefined ? "(root)" : `row ${e.row + 1}`, message: `${what}${line}` };
}

/**
 * Parses an identity map sent as CSV (RFC 4180, as HR systems export it) with papaparse: quoted fields may
 * hold commas, doubled quotes and line breaks; CRLF or LF; a UTF-8 byte order mark and empty rows are
 * ignored; the header names the columns (see {@link IDENTITY_COLUMNS}), in any order and letter case.
 * Values are trimmed and empty ones left out. Only the syntax is checked here: the route validates the
 * values. A malformed file is an {@link ApiError} `invalid_body` naming the row.
 * @see https://www.rfc-editor.org/rfc/rfc4180#section-2
 */
export function parseIdentityCsv(input: string): IdentityCsv {
  const text = input.charCodeAt(0) === 0xfeff ? input.slice(1) : input;
  // "," only: guessing the delimiter could read a file differently from what its author saw.
  const parsed = Papa.parse(text, { delimiter: ",", quoteChar: '"', header: false, skipEmptyLines: false });
  if (parsed.errors.length > 0) {
    throw invalid(
      "the CSV is malformed",
      parsed.errors.slice(0, MAX_REPORTED_ERRORS).map((e) => syntaxError(text, e)),
    );
  }
  const isEmpty = (record: string[]) => record.every((cell) => cell.trim() === "");
  const headerIndex = parsed.data.findIndex((record) => !isEmpty(record));
  const header = parsed.data[headerIndex];
  if (!header) {
    throw invalid("the CSV is empty", [{ path: "(root)", message: "expected a header row and data rows" }]);
  }
  const columns = headerColumns(header, headerIndex + 1);
  const out: IdentityCsv = { identities: [], rows: [] };
  parsed.data.forEach((record, index) => {
    if (index <= headerIndex || isEmpty(record)) return;
    const row = index + 1;
    if (record.length > header.length) {
      throw invalid("the CSV is malformed", [
        {
          path: `row ${row}`,
          message: `${record.length} fields but the header has ${header.length} (quote a value that holds a comma)`,
        },
      ]);
    }
    const identity: Partial<Record<IdentityColumn, string>> = {};
    record.forEach((cell, i) => {
      const column = columns[i];
      const value = cell.trim();
      if (column && value) identity[column] = value;
    });
    out.identities.push(identity);
    out.rows.push(row);
  });
  return out;
}

/** Maps header cells to columns; refuses a header without the needed columns or naming one twice. */
function headerColumns(header: string[], row: number): Array<IdentityColumn | undefined> {
  const columns = header.map((h) => COLUMN_BY_FOLDED.get(fold(h)));
  const problems: FieldError[] = [];
  const seen = new Set<IdentityColumn>();
  for (const column of columns) {
    if (column && seen.has(column))
      problems.push({ path: `row ${row}`, message: `column ${column} appears twice` });
    if (column) seen.add(column);
  }
  const hint = header.length === 1 && /[;\t]/.test(header[0] ?? "") ? " (separate columns with commas)" : "";
  if (!seen.has("koodriveUserId"))
    problems.push({ path: `row ${row}`, message: `the header has no koodriveUserId column${hint}` });
  if (!seen.has("email") && !seen.has("hrId"))
    problems.push({ path: `row ${row}`, message: `the header needs an email or an hrId column${hint}` });
  if (problems.length > 0) throw invalid("the CSV header is invalid", problems);
  return columns;
}
