/**
 * The KooDrive client's calls for the leaver's other steps (koodrive-api.md "Handover, blocking and
 * evidence"): handover tasks, the configured recipient, the user's status and KooDrive's audit log, against
 * the simulator, plus the documented response drift on canned answers.
 */
import { beforeEach, describe, expect, it } from "vitest";
import {
  AUDIT_PAGE_SIZE_MAX,
  KooDriveClient,
  KooDriveError,
  type TaskInfo,
  taskRecipient,
  taskSourceUser,
} from "../src/koodrive/client";
import { cancelShares } from "./helpers/koodrive";
import { DEMO, KOODRIVE_BASE, SIM, sim } from "./helpers/sim";

const SAM = "1505084218764547202";
const PRIYA = "1505084218764547203";
const NOBODY = "1505084218764599999";

function client(opts: { sleeps?: number[]; timeoutMs?: number; fetch?: typeof fetch } = {}) {
  return new KooDriveClient({
    baseUrl: KOODRIVE_BASE,
    appId: SIM.appId,
    appSecret: SIM.appSecret,
    sleep: async (ms) => {
      opts.sleeps?.push(ms);
    },
    random: () => 0.5,
    ...(opts.timeoutMs ? { timeoutMs: opts.timeoutMs } : {}),
    ...(opts.fetch ? { fetch: opts.fetch } : {}),
  });
}

const callsTo = async (endpoint: string) => (await sim.calls()).calls.filter((c) => c.endpoint === endpoint);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

beforeEach(async () => {
  await sim.reset();
  await sim.seed({ demo: true });
});

describe("KooDrive client: handover tasks", () => {
  it("creates a task and follows it to SUCCESS, ids as strings", async () => {
    await sim.taskTiming({ newMs: 0, executingMs: 0 });
    const { taskId } = await client().createHandoverTask(DEMO.admin, DEMO.leaver, SAM);
    expect(taskId).toMatch(/^\d{19}$/);
    const task = await client().getTask(DEMO.admin, taskId);
    expect(task).toMatchObject({ taskId, status: 2, userId: DEMO.leaver, taskType: 0 });
    expect(task.resultCode).toBeUndefined();
    expect((await sim.tasks()).map((t) => t.taskId)).toEqual([taskId]);
  });

  it("reports a failed task with its resultCode", async () => {
    await sim.taskTiming({ newMs: 0, executingMs: 0 });
    await sim.faults({ rules: [{ endpoint: "taskCreate", kind: "taskFailure", next: 1 }] });
    const { taskId } = await client().createHandoverTask(DEMO.admin, DEMO.leaver, SAM);
    expect(await client().getTask(DEMO.admin, taskId)).toMatchObject({ status: 3, resultCode: "18000205" });
  });

  it("does not resend a create whose answer was lost: one call, one task, a retryable error", async () => {
    await sim.faults({ rules: [{ endpoint: "taskCreate", kind: "lostResponse", next: 1, status: 502 }] });
    const sleeps: number[] = [];
    const err = await client({ sleeps })
      .createHandoverTask(DEMO.admin, DEMO.leaver, SAM)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KooDriveError);
    expect(err).toMatchObject({ call: "task.create", httpStatus: 502, retryable: true, attempts: 1 });
    expect(sleeps).toHaveLength(0);
    expect(await callsTo("taskCreate")).toHaveLength(1);
    const [made] = await sim.tasks();
    // The caller finds the task in the list, by its source user.
    const { tasks } = await client().listTaskPage(DEMO.admin, { pageSize: 10 });
    const found = tasks.filter((t) => taskSourceUser(t) === DEMO.leaver);
    expect(found.map((t) => t.taskId)).toEqual([made?.taskId]);
    expect(taskRecipient(found[0] as TaskInfo)).toBe(SAM);
  });

  it("does not resend a create that timed out (the task was made after the caller gave up)", async () => {
    await sim.faults({ rules: [{ endpoint: "taskCreate", kind: "latency", ms: 300, next: 1 }] });
    const err = await client({ timeoutMs: 50 })
      .createHandoverTask(DEMO.admin, DEMO.leaver, SAM)
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ call: "task.create", httpStatus: undefined, retryable: true, attempts: 1 });
    await sleep(400);
    expect(await callsTo("taskCreate")).toHaveLength(1);
    expect(await sim.tasks()).toHaveLength(1);
  });

  it("retries a create refused with 429 (not processed) and makes exactly one task", async () => {
    await sim.faults({ rules: [{ endpoint: "taskCreate", kind: "http429", next: 1, retryAfter: 1 }] });
    const sleeps: number[] = [];
    const { taskId } = await client({ sleeps }).createHandoverTask(DEMO.admin, DEMO.leaver, SAM);
    expect(sleeps).toEqual([1000]);
    expect((await callsTo("taskCreate")).map((c) => c.status)).toEqual([429, 200]);
    expect((await sim.tasks()).map((t) => t.taskId)).toEqual([taskId]);
  });

  it("still retries reads through a 5xx (only the create is never resent)", async () => {
    await sim.taskTiming({ newMs: 0, executingMs: 0 });
    const { taskId } = await client().createHandoverTask(DEMO.admin, DEMO.leaver, SAM);
    await sim.faults({ rules: [{ endpoint: "taskGet", kind: "http5xx", next: 1, status: 503 }] });
    expect((await client().getTask(DEMO.admin, taskId)).status).toBe(2);
    expect((await callsTo("taskGet")).map((c) => c.status)).toEqual([503, 200]);
  });

  it("refuses the source user as recipient before sending, and reports KooDrive's refusals unretried", async () => {
    await expect(client().createHandoverTask(DEMO.admin, DEMO.leaver, DEMO.leaver)).rejects.toThrow(
      RangeError,
    );
    expect(await callsTo("taskCreate")).toHaveLength(0);
    const err = await client()
      .createHandoverTask(DEMO.admin, NOBODY, SAM)
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "13000309", retryable: false, attempts: 1 });
    const missing = await client()
      .getTask(DEMO.admin, "1534087020903709999")
      .catch((e: unknown) => e);
    expect(missing).toMatchObject({ call: "task.get", code: "13000309", retryable: false });
  });
});

describe("KooDrive client: the task list", () => {
  async function threeTasks(): Promise<string[]> {
    await sim.taskTiming({ newMs: 60_000, executingMs: 0 });
    const ids: string[] = [];
    for (const src of [DEMO.leaver, SAM, PRIYA])
      ids.push((await client().createHandoverTask(DEMO.admin, src, DEMO.admin)).taskId);
    return ids;
  }

  async function allPages(q: { status?: number; pageSize?: number } = {}) {
    const pages: TaskInfo[][] = [];
    let pageCursor: string | undefined;
    do {
      const page = await client().listTaskPage(DEMO.admin, { ...q, ...(pageCursor ? { pageCursor } : {}) });
      pages.push(page.tasks);
      pageCursor = page.nextCursor;
    } while (pageCursor !== undefined && pages.length < 10);
    return pages;
  }

  it("pages with pageSize and nextCursor under both spellings of the array", async () => {
    const ids = await threeTasks();
    for (const taskListDtos of [false, true]) {
      await sim.quirks({ taskListDtos });
      const pages = await allPages({ pageSize: 2 });
      expect(pages.map((p) => p.length)).toEqual([2, 1]);
      expect(pages.flat().map((t) => t.taskId)).toEqual([...ids].reverse());
      expect(pages.flat().map(taskSourceUser)).toEqual([PRIYA, SAM, DEMO.leaver]);
      expect(pages.flat().every((t) => taskRecipient(t) === DEMO.admin && t.createTime !== undefined)).toBe(
        true,
      );
    }
    const listed = await callsTo("taskList");
    expect(listed.map((c) => c.fault)).toEqual([null, null, "taskListDtos", "taskListDtos"]);
  });

  it("filters by status and sends taskType=0", async () => {
    await threeTasks();
    expect((await allPages({ status: 0 })).flat()).toHaveLength(3);
    expect((await allPages({ status: 1 })).flat()).toHaveLength(0);
    const [first] = await callsTo("taskList");
    expect(new URLSearchParams(first?.query).get("taskType")).toBe("0");
  });

  it("refuses a pageSize above 100 before sending", async () => {
    await expect(client().listTaskPage(DEMO.admin, { pageSize: 101 })).rejects.toThrow(RangeError);
    expect(await callsTo("taskList")).toHaveLength(0);
  });
});

describe("KooDrive client: recipient and status", () => {
  it("reads the configured recipient, or null when none is configured", async () => {
    expect(await client().handoverRecipient(DEMO.admin, DEMO.leaver)).toEqual({
      userId: SAM,
      name: "Sam Seller",
    });
    expect(await client().handoverRecipient(DEMO.admin, SAM)).toBeNull();
    const err = await client()
      .handoverRecipient(DEMO.admin, NOBODY)
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ call: "task.recipient", code: "13000309", retryable: false });
  });

  it("blocks and unblocks a login; a user that does not exist (or was removed) is 13000309", async () => {
    await client().setUserStatus(DEMO.admin, DEMO.leaver, 1);
    expect((await sim.user(DEMO.leaver)).status).toBe(1);
    await client().setUserStatus(DEMO.admin, DEMO.leaver, 0);
    expect((await sim.user(DEMO.leaver)).status).toBe(0);
    const unknown = await client()
      .setUserStatus(DEMO.admin, NOBODY, 1)
      .catch((e: unknown) => e);
    expect(unknown).toMatchObject({ call: "user.update", code: "13000309", retryable: false, attempts: 1 });
    await sim.taskTiming({ newMs: 0, executingMs: 0 });
    await client().createHandoverTask(DEMO.admin, DEMO.leaver, SAM);
    const removed = await client()
      .setUserStatus(DEMO.admin, DEMO.leaver, 1)
      .catch((e: unknown) => e);
    expect(removed).toMatchObject({ code: "13000309" });
  });
});

describe("KooDrive client: the audit log", () => {
  it("reads a window page by page; operations outside it or on other resources are not the cancels", async () => {
    await client().setUserStatus(DEMO.admin, SAM, 1);
    await sleep(20);
    const from = new Date().toISOString();
    const ids = (await sim.shares(DEMO.leaver, "active")).slice(0, 5).map((s) => s.shareId);
    await client().setUserStatus(DEMO.admin, PRIYA, 1);
    await cancelShares(client(), DEMO.leaver, ids);
    await sleep(20);
    const to = new Date().toISOString();
    await sleep(20);
    await client().setUserStatus(DEMO.admin, SAM, 0);

    const pages = [];
    for (let pageNum = 1; pageNum <= 4; pageNum++)
      pages.push(await client().auditLogPage(DEMO.admin, { from, to, pageNum, pageSize: 2 }));
    expect(pages.map((p) => p.total)).toEqual([6, 6, 6, 6]);
    expect(pages.map((p) => p.entries.length)).toEqual([2, 2, 2, 0]);
    const entries = pages.flatMap((p) => p.entries);
    expect(entries.map((e) => e.resource)).toEqual([PRIYA, ...ids.map(() => expect.any(String))]);
    expect(
      entries
        .filter((e) => ids.includes(e.resource))
        .map((e) => e.resource)
        .sort(),
    ).toEqual([...ids].sort());
    expect(entries.every((e) => /^\d{19}$/.test(e.logId) && e.operateResult === 0)).toBe(true);
    // Oldest first: the times never go back.
    const times = entries.map((e) => Date.parse(e.operateTime));
    expect(times).toEqual([...times].sort((a, b) => a - b));
  });

  it("shows fewer entries than cancels when KooDrive's log leaves some out", async () => {
    const ids = (await sim.shares(DEMO.leaver, "active")).slice(0, 4).map((s) => s.shareId);
    await sim.faults({
      rules: [{ endpoint: "cancel", kind: "auditOmit", rate: 1, shareIds: ids.slice(0, 2) }],
    });
    const from = new Date(Date.now() - 60_000).toISOString();
    expect((await cancelShares(client(), DEMO.leaver, ids)).every((o) => o.ok)).toBe(true);
    const to = new Date(Date.now() + 60_000).toISOString();
    const page = await client().auditLogPage(DEMO.admin, {
      from,
      to,
      pageNum: 1,
      pageSize: AUDIT_PAGE_SIZE_MAX,
    });
    expect(page.entries.filter((e) => ids.includes(e.resource))).toHaveLength(2);
  });

  it("refuses paging outside the documented range before sending", async () => {
    const q = { from: "2026-01-01T00:00:00.000Z", to: "2026-01-02T00:00:00.000Z" };
    await expect(client().auditLogPage(DEMO.admin, { ...q, pageNum: 1, pageSize: 101 })).rejects.toThrow(
      RangeError,
    );
    await expect(client().auditLogPage(DEMO.admin, { ...q, pageNum: 0, pageSize: 10 })).rejects.toThrow(
      RangeError,
    );
    expect(await callsTo("auditlog")).toHaveLength(0);
  });
});

describe("KooDrive client: the documented drift in task and audit answers", () => {
  /** A client whose every call is answered with `body` (HTTP 200). */
  const canned = (body: unknown) => client({ fetch: async () => Response.json(body) });

  it("accepts the reference's create example and a taskId sent as an exact number", async () => {
    const example = canned({ taskId: "1534087020903704704", code: 0 });
    expect(await example.createHandoverTask(DEMO.admin, DEMO.leaver, SAM)).toEqual({
      taskId: "1534087020903704704",
    });
    const numeric = canned({ taskId: 12345, code: "0" });
    expect(await numeric.createHandoverTask(DEMO.admin, DEMO.leaver, SAM)).toEqual({ taskId: "12345" });
  });

  it("refuses a 19-digit taskId sent as a JSON number (already rounded)", async () => {
    const rounded = client({
      fetch: async () => new Response('{"code":0,"taskId":1534087020903704704}', { status: 200 }),
    });
    await expect(rounded.createHandoverTask(DEMO.admin, DEMO.leaver, SAM)).rejects.toMatchObject({
      retryable: false,
    });
  });

  it("reads taskListDtos, a numeric cursor, numeric times and an initParams object", async () => {
    const page = await canned({
      code: "0",
      nextCursor: 42,
      taskListDtos: [
        {
          taskId: "1534087020903704704",
          status: "3",
          resultCode: 18000205,
          createTime: 1767225601000,
          initParams: { srcUserId: DEMO.leaver, dstUserId: SAM },
        },
      ],
    }).listTaskPage(DEMO.admin);
    expect(page.nextCursor).toBe("42");
    const [task] = page.tasks;
    expect(task).toEqual({
      taskId: "1534087020903704704",
      status: 3,
      resultCode: "18000205",
      createTime: "2026-01-01T00:00:01.000Z",
      initParams: JSON.stringify({ srcUserId: DEMO.leaver, dstUserId: SAM }),
    });
    expect(taskSourceUser(task as TaskInfo)).toBe(DEMO.leaver);
    expect(taskRecipient(task as TaskInfo)).toBe(SAM);
  });

  it("reads the source and recipient from initParams even when sent as 19-digit numbers", () => {
    const task: TaskInfo = {
      taskId: "1",
      status: 0,
      userId: DEMO.admin,
      initParams: `{"srcUserId":${DEMO.leaver},"dstUserId":${SAM}}`,
    };
    expect(taskSourceUser(task)).toBe(DEMO.leaver);
    expect(taskRecipient(task)).toBe(SAM);
    expect(taskSourceUser({ taskId: "1", status: 0, userId: DEMO.leaver })).toBe(DEMO.leaver);
    expect(taskRecipient({ taskId: "1", status: 0, userId: DEMO.leaver })).toBeUndefined();
    expect(taskSourceUser({ taskId: "1", status: 0, initParams: "not json" })).toBeUndefined();
  });

  it("reads no recipient from an answer without an id, null or empty", async () => {
    for (const body of [{ code: 0 }, { code: 0, id: null, name: null }, { code: "0", id: "", name: "" }])
      expect(await canned(body).handoverRecipient(DEMO.admin, DEMO.leaver)).toBeNull();
  });

  it("refuses an audit-log answer without total, and reads entries with missing fields as empty", async () => {
    const q = { from: "2026-01-01T00:00:00.000Z", to: "2026-01-02T00:00:00.000Z", pageNum: 1, pageSize: 10 };
    await expect(canned({ code: 0, logInfoList: [] }).auditLogPage(DEMO.admin, q)).rejects.toMatchObject({
      retryable: false,
    });
    const page = await canned({
      code: 0,
      total: "1",
      logInfoList: [{ logId: "7", resource: "1689759841444195840" }],
    }).auditLogPage(DEMO.admin, q);
    expect(page).toEqual({
      total: 1,
      entries: [{ logId: "7", resource: "1689759841444195840", operation: "", operateTime: "" }],
    });
  });
});
