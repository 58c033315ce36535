#!/usr/bin/env node
// `npm run bench`: speed and scale of the real Worker against the KooDrive simulator, both under
// `wrangler dev` on 127.0.0.1, with numbers compared to their lower bounds. Writes docs/benchmarks.md.
//   npm run bench                          all phases, scale 1,000 / 10,000 / 100,000 shares
//   npm run bench -- --only ingress,bundle --sizes 1000,10000 --burst 200 --no-write
//   npm run bench -- --only layoff --layoff 300 --layoff-large 20 --large-shares 2000 --layoff-rps 20
// Bounded: every phase has a deadline and the script stops both servers when it ends.
import { execFileSync, spawn } from "node:child_process";
import { createHmac, randomUUID } from "node:crypto";
import {
  createWriteStream,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { cpus, totalmem } from "node:os";
import { gzipSync } from "node:zlib";
import autocannon from "autocannon";

const args = process.argv.slice(2);
const arg = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i === -1 ? fallback : args[i + 1];
};
const PHASES = ["ingress", "scale", "burst", "restart", "layoff", "bundle"];
const ONLY = new Set((arg("only", PHASES.join(",")) ?? "").split(","));
const SIZES = arg("sizes", "1000,10000,100000").split(",").map(Number);
const BURST = Number(arg("burst", "1000"));
const WRITE = !args.includes("--no-write");
const INGRESS_SECONDS = Number(arg("seconds", "8"));
/**
 * Layoff (issue 12): LAYOFF leavers at once, LAYOFF_LARGE of them with LARGE_SHARES shares, the rest with 10
 * to 50; the simulator limits the tenant to LAYOFF_RPS calls a second, a number the service is not told.
 */
const LAYOFF = Number(arg("layoff", "300"));
const LAYOFF_LARGE = Number(arg("layoff-large", String(Math.round(LAYOFF / 15))));
const LARGE_SHARES = Number(arg("large-shares", "2000"));
const LAYOFF_RPS = Number(arg("layoff-rps", "20"));
/** Small leavers' share counts: 10 to 50 [issue 12]. */
const SMALL_MIN = 10;
const SMALL_MAX = 50;
/** KooDrive calls a leaver with at most 100 shares needs before `completed`: user check, list, cancel, verify. */
const SMALL_CALLS = 4;
/** `--profile DIR`: CPU profiles of the service's and the simulator's isolates per scale run (Chrome DevTools). */
const PROFILE_DIR = arg("profile", undefined);

const SVC = "http://127.0.0.1:8797";
const SIM = "http://127.0.0.1:8798";
const SIM_TOKEN = "demo-sim-admin-token";
const LATENCY_MS = Number(arg("latency", "50"));
const PARALLELISM = 4;
/** Shares of the untimed warm-up run that precedes the scale runs. */
const WARMUP_SHARES = 1000;
const PAGE = 100;
const VARS = {
  KOODRIVE_BASE_URL: SIM,
  KOODRIVE_APP_ID: "demo-app-id-0000000000000000000000000000000000000000000000000000",
  KOODRIVE_APP_SECRET: "demo-app-secret-change-me",
  KOODRIVE_DIRECTORY_USER_ID: "1505084218764547200",
  HR_WEBHOOK_SECRETS: "whsec_YmVuY2gtaHItd2ViaG9vay1zZWNyZXQtMTIzNDU2Nzg=",
  ADMIN_TOKEN: "bench-admin-token-0123456789",
  CANCEL_PARALLELISM: String(PARALLELISM),
  // The sweeper only runs when the bench triggers it (restart phase); then any unfinished run counts as stuck.
  STUCK_RUN_MINUTES: "0",
  // The rate governor's ceiling (issue 12), above the layoff's simulated limit: the service must learn the
  // tenant's real limit, not be told it. Ignored by a service without the governor.
  KOODRIVE_MAX_RPS: arg("max-rps", "50"),
};
const HR_KEY = Buffer.from(VARS.HR_WEBHOOK_SECRETS.slice("whsec_".length), "base64");
const ADMIN = { authorization: `Bearer ${VARS.ADMIN_TOKEN}` };
const SIMAUTH = { authorization: `Bearer ${SIM_TOKEN}` };
const TERMINAL = new Set([
  "completed",
  "partial",
  "failed",
  "unresolved",
  "dry_run",
  "rejected",
  "expired",
  "withdrawn",
]);

const children = [];
/** Where both Workers keep their local state (wiped at the start) and their logs. */
const PERSIST = arg("persist", ".wrangler/bench");
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function start(name, argv) {
  const child = spawn("wrangler", argv, {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
  });
  let log = "";
  // The whole output is kept beside the persisted state (`.wrangler/bench/<name>.log`) for a look afterwards.
  const file = createWriteStream(`${PERSIST}/${name}.log`, { flags: "a" });
  child.stdout.on("data", (d) => {
    log = (log + d).slice(-4000);
    file.write(d);
  });
  child.stderr.on("data", (d) => {
    log = (log + d).slice(-4000);
    file.write(d);
  });
  child.on("exit", (code) => {
    if (!stopping && !child.killedOnPurpose) console.error(`[${name}] exited (${code}):\n${log}`);
  });
  children.push(child);
  return child;
}
let stopping = false;
function stopAll() {
  stopping = true;
  for (const c of children) if (c.exitCode === null) c.kill("SIGTERM");
}
process.on("exit", stopAll);
process.on("SIGINT", () => process.exit(130));

async function waitUp(url, headers = {}) {
  for (let i = 0; i < 300; i++) {
    try {
      if ((await fetch(url, { headers })).ok) return;
    } catch {}
    await sleep(300);
  }
  throw new Error(`${url} did not come up`);
}

/**
 * Waits until the service has stopped calling KooDrive (no call for SETTLE_QUIET_MS, at most SETTLE_MAX_MS):
 * work a phase leaves behind after its runs ended (each run's evidence read of KooDrive's audit log comes
 * after its result) must not spend the next phase's quota or CPU.
 */
const SETTLE_QUIET_MS = 3_000;
const SETTLE_MAX_MS = 10 * 60_000;
async function settle(phase) {
  const t0 = Date.now();
  let last = (await simCall("GET", "/stats")).calls;
  let quietSince = Date.now();
  while (Date.now() - quietSince < SETTLE_QUIET_MS && Date.now() - t0 < SETTLE_MAX_MS) {
    await sleep(500);
    const now = (await simCall("GET", "/stats")).calls;
    if (now !== last) [last, quietSince] = [now, Date.now()];
  }
  console.log(`${phase}: settled after ${((Date.now() - t0) / 1000).toFixed(0)} s`);
}

/**
 * Seeds the directory user the service acts as for its user, task and audit-log calls (VARS
 * KOODRIVE_DIRECTORY_USER_ID) after a phase's reset, so each run's evidence read (KooDrive's audit log, read
 * as that user) is answered as on a real tenant instead of refused as "user does not exist".
 */
async function seedDirectoryUser() {
  await simCall("POST", "/seed", {
    users: [{ userId: VARS.KOODRIVE_DIRECTORY_USER_ID, name: "Bench Directory Admin", shares: 0 }],
    seed: 1,
  });
}

async function simCall(method, path, body) {
  const res = await fetch(`${SIM}/__sim${path}`, {
    method,
    headers: SIMAUTH,
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  if (!res.ok) throw new Error(`sim ${method} ${path}: ${res.status} ${await res.text()}`);
  return res.json();
}

function signed(body, id = `msg_${randomUUID()}`) {
  const ts = Math.floor(Date.now() / 1000);
  const sig = createHmac("sha256", HR_KEY).update(`${id}.${ts}.${body}`).digest("base64");
  return {
    "content-type": "application/json",
    "webhook-id": id,
    "webhook-timestamp": String(ts),
    "webhook-signature": `v1,${sig}`,
  };
}

const offboarded = (employee, options = {}) =>
  JSON.stringify({
    type: "employee.offboarded",
    timestamp: new Date().toISOString(),
    data: { employee },
    options,
  });

async function sendEvent(body, id) {
  const res = await fetch(`${SVC}/webhooks/hr`, { method: "POST", headers: signed(body, id), body });
  return { status: res.status, body: await res.json() };
}

async function getRun(runId) {
  return (await fetch(`${SVC}/runs/${runId}?limit=1`, { headers: ADMIN })).json();
}

/**
 * Starts the V8 sampling profiler in a Worker's isolate through wrangler's inspector proxy
 * (Chrome DevTools Protocol); the returned function stops it and writes a .cpuprofile file.
 */
async function startProfile(port) {
  // wrangler's proxy only accepts DevTools origins.
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, {
    headers: { origin: "https://devtools.devprod.cloudflare.dev" },
  });
  await new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = () => reject(new Error(`cannot reach the inspector on 127.0.0.1:${port}`));
  });
  let next = 0;
  const waiting = new Map();
  ws.onmessage = (m) => {
    const msg = JSON.parse(m.data);
    waiting.get(msg.id)?.(msg);
    waiting.delete(msg.id);
  };
  const send = (method, params = {}) =>
    new Promise((resolve, reject) => {
      const id = ++next;
      waiting.set(id, (msg) =>
        msg.error ? reject(new Error(JSON.stringify(msg.error))) : resolve(msg.result),
      );
      ws.send(JSON.stringify({ id, method, params }));
    });
  await send("Profiler.enable");
  await send("Profiler.setSamplingInterval", { interval: 500 });
  await send("Profiler.start");
  return async (file) => {
    const { profile } = await send("Profiler.stop");
    ws.close();
    mkdirSync(PROFILE_DIR, { recursive: true });
    writeFileSync(`${PROFILE_DIR}/${file}`, JSON.stringify(profile));
    console.log(`profile written: ${PROFILE_DIR}/${file}`);
  };
}

/** Sums the resident memory of the service's workerd processes (Linux /proc). */
function descendants(pid) {
  const out = [];
  for (const dir of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    try {
      const ppid = Number(readFileSync(`/proc/${dir}/stat`, "utf8").split(") ")[1].split(" ")[1]);
      if (ppid === pid) out.push(Number(dir), ...descendants(Number(dir)));
    } catch {}
  }
  return out;
}
/** CPU seconds (user + system) used so far by the workerd processes under `rootPid`. */
function cpuSeconds(rootPid) {
  let ticks = 0;
  for (const pid of descendants(rootPid)) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
      if (!readFileSync(`/proc/${pid}/comm`, "utf8").startsWith("workerd")) continue;
      ticks += Number(stat[11]) + Number(stat[12]);
    } catch {}
  }
  return ticks / 100;
}
function rssMiB(rootPid) {
  let kb = 0;
  for (const pid of descendants(rootPid)) {
    try {
      const status = readFileSync(`/proc/${pid}/status`, "utf8");
      if (!/Name:\s*workerd/.test(status)) continue;
      kb += Number(/VmRSS:\s*(\d+)/.exec(status)?.[1] ?? 0);
    } catch {}
  }
  return kb / 1024;
}

async function pool(items, concurrency, fn) {
  const results = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) {
        const i = next++;
        results[i] = await fn(items[i], i);
      }
    }),
  );
  return results;
}

const rows = { ingress: [], scale: [], burst: [], restart: [], layoff: [], bundle: [] };
const state = { service: undefined };

/**
 * Ingress: the signed webhook and the trivial route are loaded side by side in the same run (two
 * autocannon instances at once, 5 connections each), so both see the same machine, including the runs the
 * webhook starts executing in the same workerd.
 */
async function ingress() {
  const common = { url: SVC, connections: 5, duration: INGRESS_SECONDS };
  const trivial = () => autocannon({ ...common, requests: [{ method: "GET", path: "/healthz" }] });
  const webhook = (type) =>
    autocannon({
      ...common,
      requests: [
        {
          method: "POST",
          path: "/webhooks/hr",
          setupRequest: (req) => {
            const body =
              type === "offboarded"
                ? offboarded({ id: "E-bench", koodriveUserId: "1505084218764547200" }, { dryRun: true })
                : JSON.stringify({ type: "employee.updated", timestamp: new Date().toISOString(), data: {} });
            return { ...req, headers: signed(body), body };
          },
        },
      ],
    });
  const row = (name, r, base) => ({
    name,
    rps: r.requests.average,
    p50: r.latency.p50,
    p99: r.latency.p99,
    non2xx: r.non2xx + r.errors,
    vsTrivial: base ? r.requests.average / base.requests.average : 1,
    p99x: base ? r.latency.p99 / Math.max(1, base.latency.p99) : 1,
  });
  for (const [type, label] of [
    ["offboarded", "employee.offboarded, dry run (verify + ledger + Workflow start)"],
    ["ignored", "other event type (verify + parse + audit record)"],
  ]) {
    const [base, hook] = await Promise.all([trivial(), webhook(type)]);
    rows.ingress.push(
      row(`GET /healthz, beside the next row`, base),
      row(`POST /webhooks/hr: ${label}`, hook, base),
    );
    await sleep(3000); // let the runs started above settle before the next pair
  }
}

/**
 * Waits (at most a minute) until the service and the simulator use under 5% of a core: each scale run then
 * starts on a quiet machine, not beside the runs the ingress phase started.
 */
async function quiesce(pids) {
  const used = () => pids.reduce((sum, pid) => sum + cpuSeconds(pid), 0);
  for (let i = 0; i < 60; i++) {
    const before = used();
    await sleep(1000);
    if (used() - before < 0.05) return;
  }
}

async function scale(serviceWrangler, simWrangler) {
  // One untimed run first (JIT, caches, the garbage the ingress phase left), as benchmarks usually do.
  const runs = [{ n: WARMUP_SHARES, warmup: true }, ...SIZES.map((n) => ({ n, warmup: false }))];
  for (const { n, warmup } of runs) {
    await quiesce([serviceWrangler.pid, simWrangler.pid]);
    await simCall("POST", "/reset");
    await simCall("PUT", "/quirks", { shortPages: false, emptyPages: false, codeAsString: "alternate" });
    const userId = String(1505084218764600000n + BigInt(n));
    await simCall("POST", "/seed", { users: [{ userId, name: `Scale ${n}`, shares: n }], seed: n });
    await seedDirectoryUser();
    await simCall("PUT", "/faults", { latencyMs: LATENCY_MS, rules: [] });
    const t0 = Date.now();
    const cpu0 = [cpuSeconds(serviceWrangler.pid), cpuSeconds(simWrangler.pid)];
    const rss0 = rssMiB(serviceWrangler.pid);
    let peak = rss0;
    const profiles =
      PROFILE_DIR && !warmup ? await Promise.all([startProfile(9237), startProfile(9238)]) : [];
    const { body } = await sendEvent(
      offboarded(
        { id: warmup ? "E-warmup" : `E-scale-${n}`, koodriveUserId: userId },
        { dryRun: args.includes("--dry") },
      ),
    );
    let run;
    const deadline = Date.now() + 15 * 60_000;
    while (Date.now() < deadline) {
      run = await getRun(body.runId);
      peak = Math.max(peak, rssMiB(serviceWrangler.pid));
      if (TERMINAL.has(run.status)) break;
      await sleep(1000); // GET /runs counts every share of the run: poll gently
    }
    const cpu = [cpuSeconds(serviceWrangler.pid) - cpu0[0], cpuSeconds(simWrangler.pid) - cpu0[1]];
    for (const [i, stop] of profiles.entries())
      await stop(`scale-${n}-${["service", "simulator"][i]}.cpuprofile`);
    if (warmup) {
      console.log(`warm-up run of ${n} shares: ${run.status}`);
      continue;
    }
    const wall = (Date.parse(run.finishedAt ?? new Date().toISOString()) - Date.parse(run.createdAt)) / 1000;
    const stats = await simCall("GET", "/stats");
    const summary = await simCall("GET", `/summary?owner=${userId}`);
    const pages = Math.ceil(n / PAGE);
    const batches = Math.ceil(n / PAGE);
    const tightBound = pages + batches + 1; // verify of an emptied list is one page
    const issueBound = 3 * pages;
    const wallBound = ((pages + Math.ceil(batches / PARALLELISM) + 1) * LATENCY_MS) / 1000;
    rows.scale.push({
      n,
      status: run.status,
      cancelled: run.counts?.cancelled,
      active: summary.active,
      list: stats.endpoints.list,
      cancel: stats.endpoints.cancel,
      calls: stats.endpoints.list + stats.endpoints.cancel,
      tightBound,
      issueBound,
      wall,
      wallBound,
      client: (Date.now() - t0) / 1000,
      peak,
      rss0,
      serviceCpu: cpu[0],
      simCpu: cpu[1],
    });
    console.log(JSON.stringify(rows.scale.at(-1)));
  }
}

async function burst() {
  await simCall("POST", "/reset");
  await simCall("PUT", "/quirks", { shortPages: false, emptyPages: false });
  const gen = await simCall("POST", "/seed", { generate: { users: BURST, sharesPerUser: 3, seed: 7 } });
  await seedDirectoryUser();
  const users = gen.users.map((u) => u.userId);
  const ids = users.map((u) => `msg_burst_${u}`);
  const t0 = Date.now();
  const first = await pool(users, 100, (u, i) =>
    sendEvent(offboarded({ id: `E-${u}`, koodriveUserId: u }), ids[i]),
  );
  const accepted = first.filter((r) => r.status === 202 && !r.body.duplicate).length;
  const sendSeconds = (Date.now() - t0) / 1000;
  // Deliver every event again: all must be duplicates of the first run.
  const again = await pool(users, 100, (u, i) =>
    sendEvent(offboarded({ id: `E-${u}`, koodriveUserId: u }), ids[i]),
  );
  const dupes = again.filter(
    (r, i) => r.status === 202 && r.body.duplicate && r.body.runId === first[i].body.runId,
  ).length;
  let pending = first.map((r) => r.body.runId);
  const statuses = {};
  const deadline = Date.now() + 10 * 60_000;
  while (pending.length && Date.now() < deadline) {
    const views = await pool(pending, 50, (id) => getRun(id));
    pending = pending.filter((_, i) => {
      const done = TERMINAL.has(views[i].status);
      if (done) statuses[views[i].status] = (statuses[views[i].status] ?? 0) + 1;
      return !done;
    });
    if (pending.length) await sleep(1000);
  }
  const drain = (Date.now() - t0) / 1000;
  const summary = await simCall("GET", "/summary");
  rows.burst.push({
    events: BURST,
    accepted,
    dupes,
    sendSeconds,
    drain,
    statuses,
    notTerminal: pending.length,
    ...summary,
  });
  console.log(JSON.stringify(rows.burst.at(-1)));
}

/**
 * Restart: kill the service (wrangler and its workerd, SIGKILL) in the middle of a run's cancels, start it
 * again on the same local state, and check the run finishes with nothing lost and nothing cancelled twice
 * beyond the batches that were on the wire when it died.
 */
async function restart(startService) {
  const n = 5000;
  await simCall("POST", "/reset");
  await simCall("PUT", "/quirks", { shortPages: false, emptyPages: false });
  const userId = "1505084218764699999";
  await simCall("POST", "/seed", { users: [{ userId, name: "Rita Restart", shares: n }], seed: 9 });
  await seedDirectoryUser();
  await simCall("PUT", "/faults", { latencyMs: LATENCY_MS, rules: [] });
  const { body } = await sendEvent(offboarded({ id: "E-restart", koodriveUserId: userId }));
  let before;
  for (let i = 0; i < 600; i++) {
    before = await simCall("GET", `/summary?owner=${userId}`);
    if (before.cancelled >= n * 0.3) break;
    await sleep(100);
  }
  const victim = state.service;
  victim.killedOnPurpose = true;
  for (const pid of [...descendants(victim.pid), victim.pid].reverse()) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {}
  }
  const killedAt = Date.now();
  await sleep(1000);
  state.service = startService();
  await waitUp(`${SVC}/healthz`);
  const upAfter = (Date.now() - killedAt) / 1000;
  // Workflows resume by themselves on Cloudflare; the local engine does not after a kill, which is exactly
  // what the sweeper (Cron Trigger, every 5 minutes) is for. Trigger it now instead of waiting.
  await fetch(`${SVC}/__scheduled?cron=${encodeURIComponent("*/5 * * * *")}`);
  let run;
  const deadline = Date.now() + 5 * 60_000;
  while (Date.now() < deadline) {
    run = await getRun(body.runId);
    if (TERMINAL.has(run.status)) break;
    await sleep(1000);
  }
  const after = await simCall("GET", `/summary?owner=${userId}`);
  rows.restart.push({
    n,
    cancelledAtKill: before.cancelled,
    status: run?.status,
    resumedIn: upAfter,
    finishedAfterKill: (Date.now() - killedAt) / 1000,
    active: after.active,
    doubleCancelAttempts: after.doubleCancelAttempts,
    maxCancelSuccesses: after.maxCancelSuccesses,
  });
  console.log(JSON.stringify(rows.restart.at(-1)));
}

/** The p-th percentile (nearest rank) of a list of numbers; NaN for an empty list. */
function percentile(values, p) {
  if (!values.length) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/** Every run created since `since` (ISO), through the runs list: two requests for 300 runs, not 300. */
async function runsSince(since) {
  const out = [];
  let cursor;
  do {
    const q = new URLSearchParams({ since, limit: "200", ...(cursor ? { cursor } : {}) });
    const res = await fetch(`${SVC}/runs?${q}`, { headers: ADMIN });
    if (!res.ok) throw new Error(`GET /runs: ${res.status} ${await res.text()}`);
    const page = await res.json();
    out.push(...page.runs);
    cursor = page.nextCursor;
  } while (cursor);
  return out;
}

/**
 * Layoff (issue 12): every leaver offboarded at once against a tenant limited to LAYOFF_RPS calls a second,
 * which the service is not told. The quota bound is the time the limit needs to let the calls through.
 */
async function layoff() {
  await simCall("POST", "/reset");
  await simCall("PUT", "/quirks", { shortPages: false, emptyPages: false, codeAsString: "alternate" });
  const small = LAYOFF - LAYOFF_LARGE;
  const users = Array.from({ length: LAYOFF }, (_, i) => {
    const large = i >= small;
    // Deterministic spread over 10..50 (17 and 41 are coprime, so every count in the range comes up).
    const shares = large ? LARGE_SHARES : SMALL_MIN + ((i * 17) % (SMALL_MAX - SMALL_MIN + 1));
    return { userId: String(1505084218765000000n + BigInt(i)), name: `Layoff ${i}`, shares, large };
  });
  await simCall("POST", "/seed", {
    users: users.map(({ userId, name, shares }) => ({ userId, name, shares })),
    seed: 12,
  });
  await seedDirectoryUser();
  const shares = users.reduce((n, u) => n + u.shares, 0);
  await simCall("PUT", "/faults", { latencyMs: LATENCY_MS, rules: [] });
  // The bucket starts full (burst = one second's worth), as a gateway's would after an idle spell.
  await simCall("PUT", "/limit", { rps: LAYOFF_RPS, burst: LAYOFF_RPS });
  const before = await simCall("GET", "/stats");
  const since = new Date(Date.now() - 1000).toISOString();
  const t0 = Date.now();
  const sent = await pool(users, 100, (u) =>
    sendEvent(offboarded({ id: `E-layoff-${u.userId}`, koodriveUserId: u.userId })),
  );
  const sendSeconds = (Date.now() - t0) / 1000;
  const refused = sent.filter((r) => r.status !== 202 || r.body.duplicate).length;
  const large = new Map(users.map((u, i) => [sent[i].body.runId, u.large]));
  let runs = [];
  const deadline = Date.now() + 30 * 60_000;
  while (Date.now() < deadline) {
    runs = (await runsSince(since)).filter((r) => large.has(r.runId));
    const done = runs.filter((r) => TERMINAL.has(r.status)).length;
    if (runs.length === large.size && done === runs.length) break;
    console.log(`layoff: ${done}/${large.size} terminal after ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    await sleep(5000); // the runs list is one Durable Object call per 200 runs: cheap, but no need to hurry
  }
  const after = await simCall("GET", "/stats");
  const summary = await simCall("GET", "/summary");
  await simCall("PUT", "/limit", { rps: null });
  const terminal = runs.filter((r) => TERMINAL.has(r.status));
  const lastFinish = Math.max(...terminal.map((r) => Date.parse(r.finishedAt ?? r.updatedAt)));
  const wall = (lastFinish - t0) / 1000;
  const seconds = (r) => (Date.parse(r.finishedAt ?? r.updatedAt) - Date.parse(r.createdAt)) / 1000;
  const timesOf = (isLarge) => terminal.filter((r) => large.get(r.runId) === isLarge).map(seconds);
  const calls = after.calls - before.calls;
  const throttled = after.limit.throttled - before.limit.throttled;
  const statuses = {};
  for (const r of runs) statuses[r.status] = (statuses[r.status] ?? 0) + 1;
  rows.layoff.push({
    leavers: LAYOFF,
    small,
    large: LAYOFF_LARGE,
    shares,
    refused,
    sendSeconds,
    calls,
    throttled,
    all429: (after.statuses["429"] ?? 0) - (before.statuses["429"] ?? 0),
    // Admitted calls over the rate: how long the limit needs to let through what got through.
    quotaBound: (calls - throttled) / LAYOFF_RPS,
    wall,
    notCompleted: LAYOFF - (statuses.completed ?? 0),
    statuses,
    notTerminal: LAYOFF - terminal.length,
    active: summary.active,
    smallMedian: percentile(timesOf(false), 50),
    smallP95: percentile(timesOf(false), 95),
    largeMedian: percentile(timesOf(true), 50),
    largeP95: percentile(timesOf(true), 95),
    // The least time the tenant's limit allows before the 95th-percentile small leaver can be done, whatever
    // the order: that many small leavers times the calls each needs to complete (a user check, one list
    // page, one cancel call, one verify page for at most 100 shares), admitted at LAYOFF_RPS.
    smallFloor: (Math.ceil(0.95 * small) * SMALL_CALLS) / LAYOFF_RPS,
  });
  console.log(JSON.stringify(rows.layoff.at(-1)));
}

function bundle() {
  const out = ".wrangler/bench/bundle";
  rmSync(out, { recursive: true, force: true });
  execFileSync("wrangler", ["deploy", "--dry-run", "--outdir", out], { stdio: "ignore" });
  const code = readFileSync(`${out}/index.js`);
  rows.bundle.push({
    bytes: code.length,
    gzip: gzipSync(code).length,
    mapBytes: statSync(`${out}/index.js.map`, { throwIfNoEntry: false })?.size ?? 0,
  });
}

const READING = "## Reading the numbers";

/** A generated page's `## ` sections by phase (the heading's first word), and what precedes them. */
function sections(md) {
  const [head, ...parts] = md.split(/^(?=## )/m);
  return { head, byPhase: new Map(parts.map((p) => [/^## (\w+)/.exec(p)?.[1]?.toLowerCase(), p])) };
}

/**
 * This run's tables, plus the previous page's tables of the phases not run this time (`--only`), in phase
 * order: `--only layoff` adds the layoff table without dropping the others.
 */
function mergeSections(md, previous) {
  const now = sections(md);
  const before = sections(previous);
  const kept = PHASES.filter((p) => !rows[p].length && before.byPhase.has(p));
  const head = kept.length
    ? `${now.head.trimEnd()}\nKept from an earlier run (not run this time): ${kept.join(", ")}.\n\n`
    : now.head;
  return (
    head +
    PHASES.map((p) => (rows[p].length ? now.byPhase.get(p) : before.byPhase.get(p)) ?? "")
      .filter(Boolean)
      // One blank line between sections, whichever run each comes from (a regenerated last one has none).
      .map((section) => `${section.trimEnd()}\n\n`)
      .join("")
      .trimEnd()
  );
}
const fmt = (n, d = 0) =>
  typeof n === "number"
    ? n.toLocaleString("en-US", { maximumFractionDigits: d, minimumFractionDigits: d })
    : String(n);

function report() {
  const node = process.version;
  const lines = [
    "# Benchmarks",
    "",
    `Produced by \`npm run bench\` on ${new Date().toISOString().slice(0, 10)}: ${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${node},`,
    "the service and the simulator each under `wrangler dev` (workerd) on 127.0.0.1, load from autocannon in the",
    "same machine. Local numbers: they compare the routes and the bounds with each other, not with Cloudflare's edge.",
    "",
  ];
  if (rows.ingress.length) {
    lines.push(
      `## Ingress (${INGRESS_SECONDS} s per pair; each pair loaded side by side, 5 connections each; unique webhook ids)`,
      "",
      "| route | req/s | p50 ms | p99 ms | non-2xx | throughput vs trivial | p99 vs trivial |",
      "|---|---:|---:|---:|---:|---:|---:|",
      ...rows.ingress.map(
        (r) =>
          `| ${r.name} | ${fmt(r.rps)} | ${fmt(r.p50)} | ${fmt(r.p99)} | ${r.non2xx} | ${fmt(r.vsTrivial, 2)}x | ${fmt(r.p99x, 2)}x |`,
      ),
      "",
      "Target: at least 0.5x the trivial route's throughput, p99 within 3x.",
      "",
    );
  }
  if (rows.scale.length) {
    lines.push(
      `## Scale (simulator adds ${LATENCY_MS} ms to every KooDrive call; cancel parallelism ${PARALLELISM}; no faults, no paging quirks; after an untimed ${WARMUP_SHARES.toLocaleString("en-US")}-share warm-up run, each run on an idle machine)`,
      "",
      "| shares | status | cancelled | still active | list calls | cancel calls | calls | tight bound | issue's bound 3*ceil(N/100) | wall s | wall bound s | wall / bound | CPU s service / simulator | RSS MiB before -> peak (service workerd) |",
      "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
      ...rows.scale.map(
        (r) =>
          `| ${fmt(r.n)} | ${r.status} | ${fmt(r.cancelled)} | ${fmt(r.active)} | ${fmt(r.list)} | ${fmt(r.cancel)} | ${fmt(r.calls)} | ${fmt(r.tightBound)} | ${fmt(r.issueBound)} | ${fmt(r.wall, 1)} | ${fmt(r.wallBound, 1)} | ${fmt(r.wall / r.wallBound, 2)}x | ${fmt(r.serviceCpu, 1)} / ${fmt(r.simCpu, 1)} | ${fmt(r.rss0)} -> ${fmt(r.peak)} |`,
      ),
      "",
      "Tight bound: ceil(N/100) list pages (paging is sequential) + ceil(N/100) cancel batches + 1 verify page (the",
      "verify listing of an emptied account is one page). The issue's bound counts ceil(N/100) verify pages; the run",
      "needs fewer. Wall bound: (list pages + ceil(batches / parallelism) + 1) x latency.",
      "",
    );
  }
  if (rows.burst.length) {
    const b = rows.burst[0];
    lines.push(
      "## Burst (a layoff: distinct offboarding events sent at once, 100 in flight, each leaver has 3 shares)",
      "",
      "| events | accepted (new runs) | redelivered -> same run, duplicate | send s | drain s (all terminal) | terminal states | not terminal | shares active after | double-cancel attempts |",
      "|---:|---:|---:|---:|---:|---|---:|---:|---:|",
      `| ${fmt(b.events)} | ${fmt(b.accepted)} | ${fmt(b.dupes)} | ${fmt(b.sendSeconds, 1)} | ${fmt(b.drain, 1)} | ${Object.entries(
        b.statuses,
      )
        .map(([k, v]) => `${k}: ${v}`)
        .join(", ")} | ${b.notTerminal} | ${fmt(b.active)} | ${fmt(b.doubleCancelAttempts)} |`,
      "",
    );
  }
  if (rows.restart.length) {
    const r = rows.restart[0];
    lines.push(
      "## Restart (the service is SIGKILLed in the middle of a run's cancels, then started again on the same state)",
      "",
      "| shares | cancelled when killed | final status | service up again after s | run finished after kill s | still active | double-cancel attempts | max successful cancels of one share |",
      "|---:|---:|---|---:|---:|---:|---:|---:|",
      `| ${fmt(r.n)} | ${fmt(r.cancelledAtKill)} | ${r.status} | ${fmt(r.resumedIn, 1)} | ${fmt(r.finishedAfterKill, 1)} | ${fmt(r.active)} | ${fmt(r.doubleCancelAttempts)} | ${fmt(r.maxCancelSuccesses)} |`,
      "",
      "A double-cancel attempt is a cancel sent for a share KooDrive had already cancelled: only shares of batches",
      "that were on the wire when the process died can be re-sent, and the replay records them as cancelled by us.",
      "",
    );
  }
  if (rows.layoff.length) {
    const l = rows.layoff[0];
    const x = (a, b) => `${fmt(a / b, 2)}x`;
    lines.push(
      `## Layoff (${fmt(l.leavers)} leavers at once: ${fmt(l.small)} with ${SMALL_MIN} to ${SMALL_MAX} shares, ${fmt(l.large)} with ${fmt(LARGE_SHARES)}; ${fmt(l.shares)} shares; the simulator limits the tenant to ${LAYOFF_RPS} calls/s, burst ${LAYOFF_RPS}, which the service is not told (KOODRIVE_MAX_RPS ${VARS.KOODRIVE_MAX_RPS}); ${LATENCY_MS} ms per call)`,
      "",
      "| KooDrive calls | of which 429 | quota bound s (admitted calls / rps) | wall s | wall / quota bound | 429s / calls | runs not completed | shares still active | small leavers median / p95 s | large leavers median / p95 s | small p95 / wall | least possible small p95 s / wall |",
      "|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|",
      `| ${fmt(l.calls)} | ${fmt(l.all429)} | ${fmt(l.quotaBound, 1)} | ${fmt(l.wall, 1)} | ${x(l.wall, l.quotaBound)} | ${fmt((100 * l.all429) / Math.max(1, l.calls), 1)}% | ${l.notCompleted}${
        l.notCompleted
          ? ` (${Object.entries(l.statuses)
              .filter(([k]) => k !== "completed")
              .map(([k, v]) => `${k}: ${v}`)
              .join(", ")}${l.notTerminal ? `, not terminal: ${l.notTerminal}` : ""})`
          : ""
      } | ${fmt(l.active)} | ${fmt(l.smallMedian, 1)} / ${fmt(l.smallP95, 1)} | ${fmt(l.largeMedian, 1)} / ${fmt(l.largeP95, 1)} | ${fmt(l.smallP95 / l.wall, 2)} | ${fmt(l.smallFloor, 1)} / ${fmt(l.smallFloor / l.wall, 2)} |`,
      "",
      "Calls: every KooDrive call the simulator received during the phase (429s included). Quota bound: the calls the",
      `limit let through / ${LAYOFF_RPS}, the least time the tenant's limit allows for them. Wall: from the first event sent to the`,
      "last run finished. Times per leaver: from the run's creation (event accepted) to its finish. Targets (issue 12):",
      "wall <= 1.15x the quota bound, 429s <= 2% of calls, every run completed, small leavers' p95 <= a quarter of the wall.",
      `Least possible small p95: ${fmt(Math.ceil(0.95 * l.small))} small leavers (95%) x ${SMALL_CALLS} calls each (user check, list,`,
      `cancel, verify) / ${LAYOFF_RPS} calls/s, the time the limit needs to let them through even if they went first; over the`,
      'wall, it is the smallest "small p95 / wall" any order of calls could reach on this run.',
      "",
    );
  }
  if (rows.bundle.length) {
    const b = rows.bundle[0];
    lines.push(
      "## Bundle (`wrangler deploy --dry-run --outdir`)",
      "",
      "| index.js bytes | gzip bytes |",
      "|---:|---:|",
      `| ${fmt(b.bytes)} | ${fmt(b.gzip)} |`,
      "",
    );
  }
  return lines.join("\n");
}

try {
  const persist = PERSIST;
  rmSync(persist, { recursive: true, force: true });
  mkdirSync(persist, { recursive: true });
  // Only wrangler.toml and the --var flags below configure the Workers: an empty --env-file stops wrangler
  // from reading the checkout's .dev.vars (which `npm start` writes with every action on, for the demo).
  const envFile = `${persist}/bench.env`;
  writeFileSync(envFile, "");
  const base = ["--ip", "127.0.0.1", "--show-interactive-dev-session=false", "--env-file", envFile];
  const simulator = start("simulator", [
    "dev",
    "-c",
    "simulator/wrangler.toml",
    "--port",
    "8798",
    "--inspector-port",
    "9238",
    "--persist-to",
    `${persist}/sim`,
    ...base,
  ]);
  const startService = () =>
    start("service", [
      "dev",
      "--port",
      "8797",
      "--inspector-port",
      "9237",
      "--persist-to",
      `${persist}/svc`,
      "--test-scheduled",
      ...base,
      ...Object.entries(VARS).flatMap(([k, v]) => ["--var", `${k}:${v}`]),
    ]);
  state.service = startService();
  await waitUp(`${SIM}/__sim/stats`, SIMAUTH);
  await waitUp(`${SVC}/healthz`);
  await simCall("POST", "/seed", { demo: true });
  if (ONLY.has("bundle")) bundle();
  if (ONLY.has("ingress")) {
    await ingress();
    await settle("ingress"); // its dry runs list shares after their 202s
  }
  if (ONLY.has("scale")) await scale(state.service, simulator);
  if (ONLY.has("burst")) {
    await burst();
    await settle("burst");
  }
  if (ONLY.has("restart")) {
    await restart(startService);
    await settle("restart");
  }
  if (ONLY.has("layoff")) await layoff();
  if (args.includes("--hold")) await sleep(20000);
  const md = report();
  console.log(`\n${md}`);
  if (WRITE) {
    // The hand-written reading of the numbers (from "## Reading the numbers" on) is kept across runs.
    const path = "docs/benchmarks.md";
    const old = existsSync(path) ? readFileSync(path, "utf8") : "";
    const at = old.indexOf(READING);
    const merged = mergeSections(md, at === -1 ? old : old.slice(0, at));
    writeFileSync(path, `${merged}\n${at === -1 ? "" : `\n${old.slice(at)}`}`);
  }
} catch (err) {
  console.error(err);
  process.exitCode = 1;
} finally {
  stopAll();
  setTimeout(() => process.exit(process.exitCode ?? 0), 1000);
}
