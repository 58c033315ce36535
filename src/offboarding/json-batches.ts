/** Cutting large batches for the ledger's `json_each` statements (pure). */

/**
 * Durable Object SQLite refuses a string or bound value over 2 MB [DO limits]. Batches passed to `json_each`
 * are cut into JSON arrays of at most this many bytes, one statement each.
 */
export const MAX_JSON_BATCH_BYTES = 1_000_000;

/** Packs items into JSON arrays of at most MAX_JSON_BATCH_BYTES each (an item is never split). */
export function jsonBatches(items: readonly unknown[], maxBytes = MAX_JSON_BATCH_BYTES): string[] {
  const batches: string[] = [];
  let parts: string[] = [];
  let size = 2;
  for (const item of items) {
    const json = JSON.stringify(item);
    if (parts.length > 0 && size + json.length + 1 > maxBytes) {
      batches.push(`[${parts.join(",")}]`);
      parts = [];
      size = 2;
    }
    parts.push(json);
    size += json.length + 1;
  }
  if (parts.length > 0) batches.push(`[${parts.join(",")}]`);
  return batches;
}
