/**
 * The part of papaparse 5 (a UMD/CommonJS module without bundled types) that this Worker uses.
 * Written by hand on purpose: `@types/papaparse` depends on `@types/node`, whose globals would replace the
 * Workers runtime types (`worker-configuration.d.ts`) and break the typecheck.
 * @see https://www.papaparse.com/docs#config and #results
 */
declare module "papaparse" {
  export interface ParseConfig {
    /** Field separator; papaparse guesses one when it is empty. */
    delimiter?: string;
    /** Record separator; guessed (`\r\n`, `\n` or `\r`) when empty. */
    newline?: string;
    quoteChar?: string;
    escapeChar?: string;
    /** false: every record is a `string[]` (the header row is record 0). */
    header?: false;
    /** false keeps empty records, so record indexes stay the file's row numbers. */
    skipEmptyLines?: boolean | "greedy";
    /** false: every value stays a string. */
    dynamicTyping?: false;
  }

  export interface ParseError {
    /** `Quotes`, `Delimiter` or `FieldMismatch`. */
    type: string;
    /** e.g. `MissingQuotes` (a quoted field never closes), `InvalidQuotes` (text after a closing quote). */
    code: string;
    message: string;
    /** Index of the record the error is in (0-based, the header counts), when known. */
    row?: number;
    /** Character offset in the input where the problem was found, when known. */
    index?: number;
  }

  export interface ParseResult {
    data: string[][];
    errors: ParseError[];
    meta: { delimiter: string; linebreak: string; aborted: boolean; truncated: boolean; cursor: number };
  }

  interface Papa {
    parse(input: string, config: ParseConfig): ParseResult;
  }

  const papa: Papa;
  export default papa;
}
