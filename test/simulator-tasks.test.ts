/**
 * The simulator's handover tasks, users' status and KooDrive's audit log behave as koodrive-api.md
 * "Handover, blocking and evidence" says (and as the simulator documents where the contract is silent),
 * through signed calls like any client's.
 */
import { beforeEach, describe, expect, it } from "vitest";
import { DEMO, signedFetch, sim } from "./helpers/sim";

interface Envelope {
  code: number | string;
  msg: string;
  [key: string]: unknown;
}

interface TaskItem {
  taskId: string;
  taskType: number;
  userId: string;
  status: number;
  resultCode?: string;
  initParams: string;
  createTime: number;
  startTime?: number;
  endTime?: number;
}

const SAM = "1505084218764547202";
const PRIYA = "1505084218764547203";
const CHEN = "1505084218764547204";
const NOBODY = "1505084218764599999";
/** The first task id after a reset: the reference's create example. */
const FIRST_TASK_ID = "1534087020903704704";

async function call(res: Response): Promise<{ status: number; body: Envelope }> {
  return { status: res.status, body: (await res.json()) as Envelope };
}

const create = (srcUserId: unknown, dstUserId: unknown, extra: Record<string, unknown> = {}) =>
  signedFetch({
    method: "POST",
    path: "/task/create",
    userId: DEMO.admin,
    body: { taskType: 0, srcUserId, dstUserId, ...extra },
  }).then(call);
const getTask = (taskId: string) => signedFetch({ path: `/task/${taskId}`, userId: DEMO.admin }).then(call);
const listTasks = (query: Record<string, string | number> = {}) =>
  signedFetch({ path: "/task/list", userId: DEMO.admin, query: { taskType: 0, ...query } }).then(call);
const recipientOf = (src: string) =>
  signedFetch({ path: `/task/dstUserInfo/${src}`, userId: DEMO.admin }).then(call);
const putUser = (userId: string, body: unknown) =>
  signedFetch({ method: "PUT", path: `/users/${userId}`, userId: DEMO.admin, body }).then(call);
const getUser = (userId: string) => signedFetch({ path: `/users/${userId}`, userId: DEMO.admin }).then(call);
const auditlog = (body: unknown) =>
  signedFetch({ method: "POST", path: "/auditlog", userId: DEMO.admin, body }).then(call);
const listShares = (userId: string) =>
  signedFetch({ path: "/share", userId, query: { pageSize: 100, pageCursor: 0 } }).then(call);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const instant = () => sim.taskTiming({ newMs: 0, executingMs: 0 });

beforeEach(async () => {
  await sim.reset();
  await sim.seed({ demo: true });
});

describe("handover tasks: create and detail", () => {
  it("creates a task with the reference's answer shape and moves it NEW -> EXECUTING -> SUCCESS over time", async () => {
    await sim.taskTiming({ newMs: 300, executingMs: 300 });
    const created = await create(DEMO.leaver, SAM);
    expect(created.status).toBe(200);
    expect(Number(created.body.code)).toBe(0);
    expect(created.body.taskId).toBe(FIRST_TASK_ID);
    const first = await getTask(FIRST_TASK_ID);
    expect(first.body).toMatchObject({ taskId: FIRST_TASK_ID, taskType: 0, userId: DEMO.leaver, status: 0 });
    expect(first.body.resultCode).toBeUndefined();
    await sleep(350);
    expect((await getTask(FIRST_TASK_ID)).body.status).toBe(1);
    expect((await sim.user(DEMO.leaver)).exists).toBe(true);
    await sleep(350);
    expect((await getTask(FIRST_TASK_ID)).body.status).toBe(2);
    expect(await sim.tasks()).toEqual([
      expect.objectContaining({ taskId: FIRST_TASK_ID, srcUserId: DEMO.leaver, dstUserId: SAM, status: 2 }),
    ]);
  });

  it("a successful handover removes the source user: get, put and their share list answer 13000309", async () => {
    await instant();
    expect((await listShares(DEMO.leaver)).status).toBe(200);
    const { body } = await create(DEMO.leaver, SAM);
    expect((await getTask(String(body.taskId))).body.status).toBe(2);
    const state = await sim.user(DEMO.leaver);
    expect(state).toMatchObject({ exists: false, status: null, removed: { taskId: body.taskId } });
    for (const answer of [
      await getUser(DEMO.leaver),
      await putUser(DEMO.leaver, { status: 1 }),
      await listShares(DEMO.leaver),
    ]) {
      expect(answer.status).toBe(400);
      expect(Number(answer.body.code)).toBe(13000309);
    }
    // The share rows stay in the store (only unreachable), and the recipient is untouched.
    expect((await sim.summary(DEMO.leaver)).active).toBe(36);
    expect((await sim.user(SAM)).exists).toBe(true);
    // A second handover of a removed user is refused: there is nobody to hand over.
    expect(Number((await create(DEMO.leaver, PRIYA)).body.code)).toBe(13000309);
  });

  it("refuses src == dst, unknown users, another taskType, ids that are not strings, and a second running task", async () => {
    await sim.taskTiming({ newMs: 60_000, executingMs: 60_000 });
    const refusals = [
      [await create(DEMO.leaver, DEMO.leaver), 13000102],
      [await create(NOBODY, SAM), 13000309],
      [await create(DEMO.leaver, NOBODY), 13000309],
      [await create(DEMO.leaver, SAM, { taskType: 1 }), 13000102],
      [await create(1505084218764547, SAM), 13000102],
    ] as const;
    for (const [answer, code] of refusals) {
      expect(answer.status).toBe(400);
      expect(Number(answer.body.code)).toBe(code);
    }
    expect(await sim.tasks()).toHaveLength(0);
    expect((await create(DEMO.leaver, SAM)).status).toBe(200);
    const again = await create(DEMO.leaver, PRIYA);
    expect(again.status).toBe(400);
    expect(again.body).toMatchObject({ code: 13000102, msg: expect.stringMatching(/already running/) });
    expect(await sim.tasks()).toHaveLength(1);
    // Another leaver's handover is not blocked by it.
    expect((await create(CHEN, SAM)).status).toBe(200);
  });

  it("answers 13000309 for a task id that does not exist", async () => {
    const { status, body } = await getTask("1534087020903709999");
    expect(status).toBe(400);
    expect(Number(body.code)).toBe(13000309);
  });

  it("rejects an unsigned create and creates nothing", async () => {
    const res = await signedFetch({
      method: "POST",
      path: "/task/create",
      userId: DEMO.admin,
      body: { taskType: 0, srcUserId: DEMO.leaver, dstUserId: SAM },
      appSecret: "not-the-secret",
    });
    expect(res.status).toBe(401);
    expect(await sim.tasks()).toHaveLength(0);
  });
});

describe("handover tasks: faults", () => {
  it("taskFailure: the next task ends FAILED with resultCode 18000205, keeps the user, and a new task may follow", async () => {
    await instant();
    await sim.faults({ rules: [{ endpoint: "taskCreate", kind: "taskFailure", next: 1 }] });
    const failed = await create(DEMO.leaver, SAM);
    expect(failed.status).toBe(200);
    expect((await getTask(String(failed.body.taskId))).body).toMatchObject({
      status: 3,
      resultCode: "18000205",
    });
    expect((await sim.user(DEMO.leaver)).exists).toBe(true);
    const retried = await create(DEMO.leaver, SAM);
    expect((await getTask(String(retried.body.taskId))).body.status).toBe(2);
    expect((await sim.tasks()).map((t) => [t.status, t.resultCode])).toEqual([
      [3, "18000205"],
      [2, undefined],
    ]);
    expect((await sim.user(DEMO.leaver)).removed?.taskId).toBe(retried.body.taskId);
  });

  it("taskStuck: the task stays EXECUTING until the control plane releases it", async () => {
    await sim.taskTiming({ newMs: 0, executingMs: 50 });
    await sim.faults({ rules: [{ endpoint: "taskCreate", kind: "taskStuck", next: 1 }] });
    const { body } = await create(DEMO.leaver, SAM);
    await sleep(120);
    expect((await getTask(String(body.taskId))).body.status).toBe(1);
    expect((await sim.user(DEMO.leaver)).exists).toBe(true);
    const released = await sim.taskFate(String(body.taskId), "succeed");
    expect(released.status).toBe(2);
    expect((await getTask(String(body.taskId))).body.status).toBe(2);
    expect((await sim.user(DEMO.leaver)).exists).toBe(false);
  });

  it("lostResponse on create: the task exists but the caller sees a 5xx", async () => {
    await sim.faults({ rules: [{ endpoint: "taskCreate", kind: "lostResponse", next: 1, status: 502 }] });
    const { status, body } = await create(DEMO.leaver, SAM);
    expect(status).toBe(502);
    expect(body.taskId).toBeUndefined();
    const tasks = await sim.tasks();
    expect(tasks).toHaveLength(1);
    expect(tasks[0]).toMatchObject({ srcUserId: DEMO.leaver, dstUserId: SAM });
    const [logged] = (await sim.calls()).calls.filter((c) => c.endpoint === "taskCreate");
    expect(logged).toMatchObject({ status: 502, fault: "lostResponse:200" });
    // The task list is how a caller finds it.
    const listed = (await listTasks()).body.taskList as TaskItem[];
    expect(listed.map((t) => t.taskId)).toEqual([tasks[0]?.taskId]);
  });
});

describe("handover tasks: the list", () => {
  async function fiveTasks(): Promise<string[]> {
    await sim.taskTiming({ newMs: 60_000, executingMs: 0 });
    const { users } = await sim.seed({
      users: Array.from({ length: 5 }, (_, i) => ({ name: `Leaver ${i}` })),
    });
    const ids: string[] = [];
    for (const u of users) ids.push(String((await create(u.userId, SAM)).body.taskId));
    return ids;
  }

  it("pages newest first with pageSize and nextCursor, absent on the last page", async () => {
    const ids = await fiveTasks();
    const pages: TaskItem[][] = [];
    let cursor: string | undefined;
    for (let guard = 0; guard < 10; guard++) {
      const { status, body } = await listTasks({ pageSize: 2, ...(cursor ? { pageCursor: cursor } : {}) });
      expect(status).toBe(200);
      pages.push(body.taskList as TaskItem[]);
      if (body.nextCursor === undefined) break;
      expect(typeof body.nextCursor).toBe("number");
      cursor = String(body.nextCursor);
    }
    expect(pages.map((p) => p.length)).toEqual([2, 2, 1]);
    expect(pages.flat().map((t) => t.taskId)).toEqual([...ids].reverse());
  });

  it("each item names its source in userId and initParams, with createTime", async () => {
    await fiveTasks();
    const [item] = (await listTasks({ pageSize: 1 })).body.taskList as TaskItem[];
    expect(item).toMatchObject({ taskType: 0, status: 0, createTime: expect.any(Number) });
    expect(JSON.parse(item?.initParams ?? "")).toEqual({ srcUserId: item?.userId, dstUserId: SAM });
  });

  it("filters by status", async () => {
    await fiveTasks();
    // Two more, created to skip NEW: they are EXECUTING for a minute.
    await sim.taskTiming({ newMs: 0, executingMs: 60_000 });
    await create(DEMO.leaver, SAM);
    await create(CHEN, SAM);
    const count = async (status: number) =>
      ((await listTasks({ status })).body.taskList as TaskItem[]).length;
    expect([await count(0), await count(1), await count(2), await count(3)]).toEqual([5, 2, 0, 0]);
  });

  it("names the array taskListDtos when that quirk is on", async () => {
    await fiveTasks();
    await sim.quirks({ taskListDtos: true });
    const { body } = await listTasks();
    expect(body.taskList).toBeUndefined();
    expect(body.taskListDtos).toHaveLength(5);
  });

  it("rejects a pageSize above 100 and a cursor that is not a Long", async () => {
    for (const query of [{ pageSize: 101 }, { pageSize: 0 }, { pageCursor: "abc" }, { status: 7 }]) {
      const { status, body } = await listTasks(query);
      expect(status).toBe(400);
      expect(Number(body.code)).toBe(13000102);
    }
  });
});

describe("configured recipient (dstUserInfo)", () => {
  it("answers the demo leaver's configured recipient, and an empty id for none", async () => {
    expect((await recipientOf(DEMO.leaver)).body).toMatchObject({ id: SAM, name: "Sam Seller" });
    const none = await recipientOf(SAM);
    expect(none.status).toBe(200);
    expect(Number(none.body.code)).toBe(0);
    expect(none.body).toMatchObject({ id: "", name: "" });
    expect(Number((await recipientOf(NOBODY)).body.code)).toBe(13000309);
  });

  it("takes the recipient from the seed's handoverTo and from the control plane", async () => {
    const { users } = await sim.seed({
      users: [
        { userId: "1505084218764549101", name: "Lena Leaver", handoverTo: "1505084218764549102" },
        { userId: "1505084218764549102", name: "Mo Manager" },
      ],
    });
    expect(users).toHaveLength(2);
    expect((await recipientOf("1505084218764549101")).body).toMatchObject({
      id: "1505084218764549102",
      name: "Mo Manager",
    });
    await sim.handoverTo("1505084218764549101", null);
    expect((await recipientOf("1505084218764549101")).body.id).toBe("");
    await sim.handoverTo(SAM, PRIYA);
    expect((await recipientOf(SAM)).body.id).toBe(PRIYA);
    expect((await sim.user(SAM)).handoverTo).toBe(PRIYA);
  });

  it("refuses a seeded handoverTo that is not a user id, seeding nothing", async () => {
    await expect(sim.seed({ users: [{ name: "Bad", handoverTo: "manager@example.com" }] })).rejects.toThrow(
      /handoverTo/,
    );
  });
});

describe("users' status", () => {
  it("blocks a user; their shares still list and the audit log records it", async () => {
    const blocked = await putUser(DEMO.leaver, { status: 1 });
    expect(blocked.status).toBe(200);
    expect((await getUser(DEMO.leaver)).body.data).toMatchObject({ status: 1 });
    expect(await sim.user(DEMO.leaver)).toMatchObject({ exists: true, status: 1, removed: null });
    const listed = await listShares(DEMO.leaver);
    expect(listed.status).toBe(200);
    expect((listed.body.shareLinks as unknown[]).length).toBeGreaterThan(0);
    expect(await sim.auditLog(DEMO.leaver)).toEqual([
      expect.objectContaining({ operation: "user.disable", resource: DEMO.leaver, operatorId: DEMO.admin }),
    ]);
  });

  it("answers 13000309 for an unknown user and refuses a status other than 0 or 1", async () => {
    expect(Number((await putUser(NOBODY, { status: 1 })).body.code)).toBe(13000309);
    expect(Number((await putUser(DEMO.leaver, { status: 2 })).body.code)).toBe(13000102);
    expect((await sim.user(DEMO.leaver)).status).toBe(0);
  });
});

describe("KooDrive's audit log", () => {
  /** Cancels the leaver's first `n` shares as the leaver; returns their ids. */
  async function cancelFirst(n: number): Promise<string[]> {
    const ids = (await sim.shares(DEMO.leaver, "active")).slice(0, n).map((s) => s.shareId);
    const res = await signedFetch({
      method: "POST",
      path: "/share/cancel",
      userId: DEMO.leaver,
      body: { shareIds: ids },
    });
    expect(res.status).toBe(200);
    return ids;
  }

  it("records each cancel with the share id as resource, among other operations", async () => {
    await putUser(SAM, { status: 1 });
    const ids = await cancelFirst(3);
    const { status, body } = await auditlog({});
    expect(status).toBe(200);
    expect(body.total).toBe(4);
    const entries = body.logInfoList as {
      resource: string;
      operation: string;
      operatorId: string;
      logId: string;
    }[];
    const cancels = entries.filter((e) => ids.includes(e.resource));
    expect(cancels).toHaveLength(3);
    expect(cancels.every((e) => e.operation === "share.cancel" && e.operatorId === DEMO.leaver)).toBe(true);
    expect(entries.every((e) => /^\d{19}$/.test(e.logId))).toBe(true);
  });

  it("filters by operTimeFrom / operTimeTo (inclusive)", async () => {
    await putUser(SAM, { status: 1 });
    await sleep(20);
    const from = new Date().toISOString();
    await sleep(5);
    const ids = await cancelFirst(2);
    await sleep(20);
    const to = new Date().toISOString();
    await sleep(20);
    await putUser(SAM, { status: 0 });
    const { body } = await auditlog({
      operTimeFrom: from,
      operTimeTo: to,
      pageInfo: { pageSize: 100, pageNum: 1 },
    });
    expect(body.total).toBe(2);
    expect((body.logInfoList as { resource: string }[]).map((e) => e.resource).sort()).toEqual(
      [...ids].sort(),
    );
    const after = await auditlog({ operTimeFrom: to });
    expect((after.body.logInfoList as { operation: string }[]).map((e) => e.operation)).toEqual([
      "user.enable",
    ]);
  });

  it("pages with pageSize (default 10) and pageNum from 1, sorted by time", async () => {
    const ids = await cancelFirst(12);
    const first = await auditlog({});
    expect(first.body.total).toBe(12);
    expect((first.body.logInfoList as unknown[]).length).toBe(10);
    const asc = { sortInfo: { sortType: 1, sortDirection: 1 } };
    const pages: string[][] = [];
    for (const pageNum of [1, 2, 3, 4, 5, 6, 7]) {
      const { body } = await auditlog({ ...asc, pageInfo: { pageSize: 2, pageNum } });
      pages.push((body.logInfoList as { resource: string }[]).map((e) => e.resource));
    }
    expect(pages.map((p) => p.length)).toEqual([2, 2, 2, 2, 2, 2, 0]);
    expect(pages.flat().sort()).toEqual([...ids].sort());
    const desc = await auditlog({
      sortInfo: { sortType: 1, sortDirection: 2 },
      pageInfo: { pageSize: 100, pageNum: 1 },
    });
    const ascAll = await auditlog({ ...asc, pageInfo: { pageSize: 100, pageNum: 1 } });
    const resources = (b: Envelope) => (b.logInfoList as { resource: string }[]).map((e) => e.resource);
    expect(resources(desc.body)).toEqual([...resources(ascAll.body)].reverse());
  });

  it("rejects out-of-range paging, an unknown sort and a malformed time", async () => {
    for (const body of [
      { pageInfo: { pageSize: 101, pageNum: 1 } },
      { pageInfo: { pageSize: 0, pageNum: 1 } },
      { pageInfo: { pageSize: 10, pageNum: 0 } },
      { sortInfo: { sortType: 2 } },
      { operTimeFrom: "yesterday" },
    ]) {
      const answer = await auditlog(body);
      expect(answer.status).toBe(400);
      expect(Number(answer.body.code)).toBe(13000102);
    }
  });

  it("auditOmit: the share is cancelled but the log leaves it out", async () => {
    const ids = (await sim.shares(DEMO.leaver, "active")).slice(0, 4).map((s) => s.shareId);
    await sim.faults({
      rules: [{ endpoint: "cancel", kind: "auditOmit", rate: 1, shareIds: ids.slice(0, 1) }],
    });
    await signedFetch({
      method: "POST",
      path: "/share/cancel",
      userId: DEMO.leaver,
      body: { shareIds: ids },
    });
    expect((await sim.shares(DEMO.leaver, "cancelled")).map((s) => s.shareId).sort()).toEqual(
      [...ids].sort(),
    );
    const logged = (await sim.auditLog()).map((e) => e.resource);
    expect(logged.sort()).toEqual(ids.slice(1).sort());
    const [cancel] = (await sim.calls()).calls.filter((c) => c.endpoint === "cancel");
    expect(cancel?.fault).toBe("auditOmit:1");
  });

  it("records a task create and the user removal a handover causes", async () => {
    await instant();
    const { body } = await create(DEMO.leaver, SAM);
    const log = await sim.auditLog();
    expect(log.map((e) => [e.operation, e.resource])).toEqual([
      ["task.create", body.taskId],
      ["user.delete", DEMO.leaver],
    ]);
  });
});

describe("the call log and reset", () => {
  it("names each new endpoint so a test can check the order of calls", async () => {
    await instant();
    await recipientOf(DEMO.leaver);
    const { body } = await create(DEMO.leaver, SAM);
    await getTask(String(body.taskId));
    await listTasks();
    await putUser(SAM, { status: 1 });
    await auditlog({});
    const endpoints = (await sim.calls()).calls.map((c) => c.endpoint);
    expect(endpoints).toEqual(["dstUserInfo", "taskCreate", "taskGet", "taskList", "userUpdate", "auditlog"]);
    const stats = await sim.stats();
    expect(stats.endpoints).toMatchObject({
      taskCreate: 1,
      taskGet: 1,
      taskList: 1,
      dstUserInfo: 1,
      auditlog: 1,
    });
  });

  it("a reset forgets tasks, recipients, removals and the audit log, and task ids start over", async () => {
    await instant();
    await create(DEMO.leaver, SAM);
    await sim.reset();
    expect(await sim.tasks()).toEqual([]);
    expect(await sim.auditLog()).toEqual([]);
    await sim.seed({ demo: true });
    expect((await sim.user(DEMO.leaver)).removed).toBeNull();
    expect((await create(DEMO.leaver, SAM)).body.taskId).toBe(FIRST_TASK_ID);
  });
});
