import { describe, expect, it } from "vitest";
import { jsonBatches, MAX_JSON_BATCH_BYTES } from "../../src/offboarding/json-batches";

describe("jsonBatches: batches stay under Durable Object SQLite's 2 MB value limit", () => {
  it("packs items into JSON arrays under the byte cap, in order, none split", () => {
    const items = Array.from({ length: 5000 }, (_, i) => ({
      shareId: String(1e18 + i),
      msg: "x".repeat(i % 300),
    }));
    const batches = jsonBatches(items, 100_000);
    expect(batches.length).toBeGreaterThan(5);
    expect(batches.every((b) => b.length <= 100_000)).toBe(true);
    expect(batches.flatMap((b) => JSON.parse(b) as unknown[])).toEqual(items);
    expect(jsonBatches([])).toEqual([]);
  });

  it("keeps an item larger than the cap whole, in a batch of its own", () => {
    const big = { msg: "y".repeat(500) };
    const batches = jsonBatches([{ a: 1 }, big, { b: 2 }], 100);
    expect(batches).toEqual(['[{"a":1}]', JSON.stringify([big]), '[{"b":2}]']);
  });

  it("defaults to a cap well under the 2 MB limit", () => {
    expect(MAX_JSON_BATCH_BYTES).toBeLessThanOrEqual(1_000_000);
    const items = Array.from({ length: 3000 }, (_, i) => ({ id: i, pad: "z".repeat(1000) }));
    const batches = jsonBatches(items);
    expect(batches.length).toBeGreaterThan(1);
    expect(batches.every((b) => new TextEncoder().encode(b).length <= MAX_JSON_BATCH_BYTES)).toBe(true);
  });
});
