import { env } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import { KooDriveClient } from "../src/koodrive/client";
import type { HandoverRequest } from "../src/offboarding/actions";
import {
  type AccountDeps,
  chooseRecipient,
  nextPoll,
  POLL_MAX_MS,
  pollDelayMs,
} from "../src/offboarding/handover";
import type { RunMeta } from "../src/offboarding/types";
import { DEMO, KOODRIVE_BASE, SIM, sim } from "./helpers/sim";

/**
 * Who receives a leaver's files (README "What an offboarding does"), against the simulator: the person the
 * request names, else KooDrive's configured recipient, else HANDOVER_DEFAULT_USER_ID, else nobody; never
 * the leaver; an operator's choice is never replaced by a fallback.
 */

const LEAVER = "1505084218764549701";
const MANAGER = "1505084218764549702";
const CONFIGURED = "1505084218764549703";
const DEFAULT = "1505084218764549704";

const client = new KooDriveClient({ baseUrl: KOODRIVE_BASE, appId: SIM.appId, appSecret: SIM.appSecret });
const deps = { client, kv: env.AUDIT, acting: DEMO.admin, userId: LEAVER } as unknown as AccountDeps;

function meta(handoverTo?: HandoverRequest): RunMeta {
  return {
    request: { handoverTo },
  } as unknown as RunMeta;
}

async function seed(configured?: string) {
  await sim.seed({
    users: [
      { userId: DEMO.admin, name: "Ada Admin", shares: 0 },
      { userId: LEAVER, name: "Lea Leaver", shares: 0, ...(configured ? { handoverTo: configured } : {}) },
      { userId: MANAGER, name: "Max Manager", shares: 0 },
      { userId: CONFIGURED, name: "Cora Configured", shares: 0 },
      { userId: DEFAULT, name: "Dee Default", shares: 0 },
    ],
    seed: 71,
  });
}

beforeEach(async () => {
  await sim.reset();
});

describe("choosing the handover's recipient", () => {
  it("the person the event names comes first, resolved (never by name)", async () => {
    await seed(CONFIGURED);
    const r = await chooseRecipient(
      deps,
      meta({ person: { koodriveUserId: MANAGER }, from: "event" }),
      DEFAULT,
    );
    expect(r).toMatchObject({
      recipient: { koodriveUserId: MANAGER, name: "Max Manager", foundBy: "event" },
    });
  });

  it("a manager from the event who cannot be resolved is skipped, and the note says why", async () => {
    await seed(CONFIGURED);
    const r = await chooseRecipient(
      deps,
      meta({ person: { email: "nobody@example.com", name: "Max Manager" }, from: "event" }),
      DEFAULT,
    );
    expect(r).toMatchObject({ recipient: { koodriveUserId: CONFIGURED, foundBy: "koodrive" } });
    expect("note" in r && r.note).toMatch(/nobody@example.com.*could not be resolved/);
  });

  it("an operator's choice that cannot be resolved is not replaced by a fallback", async () => {
    await seed(CONFIGURED);
    const r = await chooseRecipient(deps, meta({ person: { hrId: "E-404" }, from: "request" }), DEFAULT);
    expect(r).toMatchObject({ none: expect.stringMatching(/named by an operator, E-404/) });
  });

  it("never the leaver: a manager who is the leaver is skipped", async () => {
    await seed(CONFIGURED);
    const r = await chooseRecipient(
      deps,
      meta({ person: { koodriveUserId: LEAVER }, from: "event" }),
      DEFAULT,
    );
    expect(r).toMatchObject({ recipient: { koodriveUserId: CONFIGURED, foundBy: "koodrive" } });
    expect("note" in r && r.note).toMatch(/is the leaver themselves/);
  });

  it("no request and nobody configured in KooDrive: HANDOVER_DEFAULT_USER_ID, unless it is the leaver", async () => {
    await seed();
    expect(await chooseRecipient(deps, meta(), DEFAULT)).toMatchObject({
      recipient: { koodriveUserId: DEFAULT, foundBy: "default" },
    });
    expect(await chooseRecipient(deps, meta(), LEAVER)).toMatchObject({
      none: expect.stringMatching(/no recipient/),
    });
    expect(await chooseRecipient(deps, meta(), "")).toMatchObject({
      none: expect.stringMatching(/HANDOVER_DEFAULT_USER_ID is not set; retry the run with handoverTo/),
    });
  });

  it("KooDrive refusing the configured-recipient lookup (an unknown acting user) falls through at once, and says so", async () => {
    await seed(CONFIGURED);
    const stranger = { ...deps, acting: "1505084218764549799" } as AccountDeps;
    const before = await sim.stats();
    const r = await chooseRecipient(stranger, meta(), DEFAULT);
    expect(r).toMatchObject({ recipient: { koodriveUserId: DEFAULT, foundBy: "default" } });
    expect("note" in r && r.note).toMatch(
      /configured recipient could not be read \(KooDrive refused, code 13000309: .*KOODRIVE_DIRECTORY_USER_ID 1505084218764549799\)/,
    );
    // One lookup, not retried: a refusal of KooDrive's own does not change on a second asking.
    expect(((await sim.stats()).endpoints.dstUserInfo ?? 0) - (before.endpoints.dstUserInfo ?? 0)).toBe(1);
    const none = await chooseRecipient(stranger, meta(), "");
    expect(none).toMatchObject({ none: expect.stringMatching(/could not be read.*; no recipient/) });
  });
});

describe("polling a task", () => {
  it("gives up once the task is HANDOVER_TIMEOUT_HOURS old, not before", () => {
    const created = "2026-11-30T00:00:00.000Z";
    const at = (h: number) => Date.parse(created) + h * 3_600_000;
    expect(nextPoll(created, at(47.99), 48 * 3_600_000, 3)).toEqual({ giveUp: false, waitMs: 240_000 });
    expect(nextPoll(created, at(48), 48 * 3_600_000, 3)).toEqual({ giveUp: true });
  });

  it("backs off from 30 s, doubling, to at most 15 min", () => {
    expect([0, 1, 2, 3, 4, 5, 6, 40].map(pollDelayMs)).toEqual([
      30_000,
      60_000,
      120_000,
      240_000,
      480_000,
      900_000,
      900_000,
      POLL_MAX_MS,
    ]);
  });
});
