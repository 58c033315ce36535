import Papa from "papaparse";
import { beforeEach, describe, expect, it } from "vitest";
import { sim } from "./helpers/sim";
import { admin, clearHolds, offboardedEvent, sendHr, waitForRun } from "./helpers/worker";

const LEAVER = "1505084218764549900";

/** Share names an attacker (any KooDrive user who shares a file with the leaver's team) could choose. */
const HOSTILE = [
  "x;=1+1;y",
  '=HYPERLINK("http://x")',
  "@SUM(1)",
  "\t=1",
  'a,b"c',
  "-1",
  "+1",
  "Doe, Jane;+cmd|' /C calc'!A0",
  "two\r\n=lines",
];

const COLUMNS = 15;
const FORMULA_START = /^ *[=+\-@]/;

beforeEach(async () => {
  await sim.reset();
  await clearHolds();
});

describe("CSV export of shares with hostile names", () => {
  it("neutralises every formula trigger, however a spreadsheet splits the fields", async () => {
    await sim.seed({
      users: [
        {
          userId: LEAVER,
          name: "Hal Hostile",
          shares: [...HOSTILE, "plain one", "plain two"].map((displayName) => ({ displayName })),
        },
      ],
      seed: 9,
    });
    const names = (await sim.shares(LEAVER, "all")).map((s) => s.displayName);
    expect(names).toEqual(expect.arrayContaining(HOSTILE));

    const res = await sendHr(offboardedEvent({ id: "E-9001", koodriveUserId: LEAVER }));
    const { runId } = (await res.json()) as { runId: string };
    expect((await waitForRun(runId)).status).toBe("completed");

    const csv = await admin(`/runs/${runId}/export?format=csv`);
    expect(csv.status).toBe(200);
    const text = await csv.text();

    // However it is split (`,` `;` tab, line breaks; quotes ignored), no cell starts a formula.
    for (const cell of text.split(/[,;\t\r\n]/)) expect(cell.replace(/^"/, "")).not.toMatch(FORMULA_START);

    // An RFC 4180 reader sees the header, one row per share with every column, and each name with a
    // `'` before every formula trigger and nothing else changed.
    const parsed = Papa.parse(text.trimEnd(), { delimiter: ",", header: false });
    expect(parsed.errors).toEqual([]);
    const [header, ...rows] = parsed.data;
    expect(header).toHaveLength(COLUMNS);
    expect(rows).toHaveLength(HOSTILE.length + 2);
    expect(rows.every((r) => r.length === COLUMNS)).toBe(true);
    const exported = rows.map((r) => r[header?.indexOf("displayName") ?? -1] ?? "");
    for (const name of HOSTILE) {
      const match = exported.find((e) => e.replaceAll("'", "") === name.replaceAll("'", ""));
      expect(match, name).toBeDefined();
      expect(match).not.toMatch(FORMULA_START);
    }
    expect(exported).toContain('\'=HYPERLINK("http://x")');
    expect(exported).toContain("x;'=1+1;y");
    expect(exported).toContain("'-1");
    expect(exported).toContain('a,b"c');

    // NDJSON is data, not a spreadsheet: the names are exactly what KooDrive holds.
    const nd = await (await admin(`/runs/${runId}/export?format=ndjson`)).text();
    const ndNames = nd
      .trim()
      .split("\n")
      .map((l) => (JSON.parse(l) as { displayName: string }).displayName);
    expect(ndNames).toEqual(expect.arrayContaining(HOSTILE));
  });
});
