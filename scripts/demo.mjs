#!/usr/bin/env node
// `npm run demo`: sends a correctly signed Standard Webhooks HR event for the demo leaver to the local
// service (started with `npm start`), waits for the run and prints its result. `-- --dry-run` plans only;
// `-- --actions revoke_shares,handover,block_login` asks for more than the shares (default: revoke_shares).
// `-- --approval` starts the run through the admin API instead (`npm start` makes its runs wait for
// approval: APPROVAL_REQUIRED=api), shows the plan waiting, then approves it as a second operator.
import { createHmac, randomUUID } from "node:crypto";
import { ensureDevVars, SERVICE_URL, SIM_ADMIN_TOKEN, SIMULATOR_URL } from "./dev-vars.mjs";

const vars = ensureDevVars();
const dryRun = process.argv.includes("--dry-run");
const actionsAt = process.argv.indexOf("--actions");
const actions = (actionsAt > 0 ? (process.argv[actionsAt + 1] ?? "") : "revoke_shares")
  .split(",")
  .filter(Boolean);
const secret = vars.HR_WEBHOOK_SECRETS.split(/\s+/)[0];
const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");

const approval = process.argv.includes("--approval");
const admin = { authorization: `Bearer ${vars.ADMIN_TOKEN}` };

/** Waits for the run to reach one of `statuses`; returns its view. */
async function waitFor(runId, statuses) {
  let view;
  for (let i = 0; i < 240; i++) {
    view = await (await fetch(`${SERVICE_URL}/runs/${runId}?limit=5000`, { headers: admin })).json();
    if (statuses.has(view.status)) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  return view;
}

/** The four-eyes path: the requester (break-glass) asks, an operator token (another person) approves. */
async function requestAndApprove() {
  // The simulator's demo tenant afresh, so the plan waiting for approval holds Dana's shares (an earlier
  // demo may have cancelled them).
  const sim = { authorization: `Bearer ${SIM_ADMIN_TOKEN}` };
  await fetch(`${SIMULATOR_URL}/__sim/reset`, { method: "POST", headers: sim });
  await fetch(`${SIMULATOR_URL}/__sim/seed`, {
    method: "POST",
    headers: sim,
    body: JSON.stringify({ demo: true }),
  });
  const json = { ...admin, "content-type": "application/json" };
  const body = { person: "dana.leaver@example.com", reason: "resigned (demo of approvals)", actions };
  console.log(`POST ${SERVICE_URL}/offboardings  (as break-glass: the requester)`);
  const res = await fetch(`${SERVICE_URL}/offboardings`, {
    method: "POST",
    headers: json,
    body: JSON.stringify(body),
  }).catch((err) => {
    console.error(
      `The service is not answering at ${SERVICE_URL}: start it with \`npm start\` first. (${err.cause?.code ?? err.message})`,
    );
    process.exit(1);
  });
  const started = await res.json();
  console.log(`-> ${res.status} ${JSON.stringify(started)}`);
  if (res.status !== 202) process.exit(1);
  const waiting = await waitFor(
    started.runId,
    new Set(["awaiting_approval", "completed", "partial", "failed", "unresolved"]),
  );
  if (waiting.status !== "awaiting_approval") {
    console.error(
      `The run did not wait for approval (${waiting.status}): is APPROVAL_REQUIRED=api in .dev.vars?`,
    );
    process.exit(1);
  }
  console.log(`\nRun ${waiting.runId}: awaiting_approval  (${waiting.detail})`);
  console.log(
    `  plan: ${waiting.approval.planShares} share(s), digest ${waiting.approval.planDigest.slice(0, 16)}...`,
  );
  const own = await fetch(`${SERVICE_URL}/runs/${waiting.runId}/approve`, {
    method: "POST",
    headers: json,
    body: "{}",
  });
  console.log(`The requester approves their own run -> ${own.status} (${(await own.json()).error?.message})`);
  const token = await fetch(`${SERVICE_URL}/tokens`, {
    method: "POST",
    headers: json,
    body: JSON.stringify({ name: `demo-approver-${Date.now()}`, role: "operator" }),
  });
  const approver = await token.json();
  const ok = await fetch(`${SERVICE_URL}/runs/${waiting.runId}/approve`, {
    method: "POST",
    headers: { authorization: `Bearer ${approver.token}`, "content-type": "application/json" },
    body: JSON.stringify({ reason: "checked with HR" }),
  });
  console.log(`Operator ${approver.name} approves -> ${ok.status}`);
  await fetch(`${SERVICE_URL}/tokens/${approver.id}`, { method: "DELETE", headers: admin });
  return { runId: waiting.runId };
}

const id = `msg_demo_${randomUUID()}`;
const timestamp = Math.floor(Date.now() / 1000);
const body = JSON.stringify({
  type: "employee.offboarded",
  timestamp: new Date().toISOString(),
  data: {
    // No koodriveUserId: the service finds Dana through the identity map (npm start loads her e-mail).
    employee: { id: "E-0042", email: "dana.leaver@example.com", name: "Dana Leaver" },
    effectiveAt: new Date().toISOString(),
    reason: "resigned",
  },
  // No manager named: a handover goes to the recipient KooDrive's admin configured for Dana.
  options: { dryRun, scopes: [1, 2, 3], actions },
});
const signature = createHmac("sha256", key).update(`${id}.${timestamp}.${body}`).digest("base64");

const accepted = approval ? await requestAndApprove() : await sendHrEvent();

async function sendHrEvent() {
  console.log(`POST ${SERVICE_URL}/webhooks/hr  webhook-id: ${id}${dryRun ? "  (dry run)" : ""}`);
  const res = await fetch(`${SERVICE_URL}/webhooks/hr`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "webhook-id": id,
      "webhook-timestamp": String(timestamp),
      "webhook-signature": `v1,${signature}`,
    },
    body,
  }).catch((err) => {
    console.error(
      `The service is not answering at ${SERVICE_URL}: start it with \`npm start\` first. (${err.cause?.code ?? err.message})`,
    );
    process.exit(1);
  });
  const answer = await res.json();
  console.log(`-> ${res.status} ${JSON.stringify(answer)}`);
  if (res.status !== 202) process.exit(1);
  return answer;
}

// A run that watches reports its main result as `watching` (the watch's checks come minutes later).
const terminal = new Set(["completed", "partial", "failed", "unresolved", "dry_run", "watching"]);
let run;
for (let i = 0; i < 240; i++) {
  run = await (await fetch(`${SERVICE_URL}/runs/${accepted.runId}?limit=5000`, { headers: admin })).json();
  if (terminal.has(run.status)) break;
  await new Promise((r) => setTimeout(r, 500));
}
// KooDrive's audit log is read right after the result: give it a moment.
for (let i = 0; i < 20 && !run.evidence && run.counts?.cancelled > 0; i++) {
  await new Promise((r) => setTimeout(r, 500));
  run = await (await fetch(`${SERVICE_URL}/runs/${accepted.runId}?limit=5000`, { headers: admin })).json();
}
console.log(`\nRun ${run.runId}: ${run.status}  (${run.detail ?? ""})`);
console.log(`Leaver resolved to ${run.koodriveUserId} by ${run.resolvedBy}`);
console.log(
  "Counts:",
  Object.entries(run.counts)
    .filter(([, n]) => n > 0)
    .map(([k, n]) => `${k}=${n}`)
    .join(" "),
);
for (const a of run.actions ?? []) console.log(`  ${a.action.padEnd(14)} ${a.state.padEnd(15)} ${a.detail}`);
if (run.evidence) console.log(`Evidence: ${run.evidence.summary}`);
console.log("\nshareId              scope  state         name");
for (const s of run.shares.slice(0, 50)) {
  console.log(`${s.shareId}  ${String(s.scope).padEnd(5)}  ${s.state.padEnd(12)}  ${s.displayName}`);
}
if (run.shares.length > 50) console.log(`... and ${run.shares.length - 50} more`);
console.log(
  `\nExport:  curl -H "Authorization: Bearer ${vars.ADMIN_TOKEN}" "${SERVICE_URL}/runs/${run.runId}/export?format=csv"`,
);
console.log(
  `Audit:   curl -H "Authorization: Bearer ${vars.ADMIN_TOKEN}" "${SERVICE_URL}/audit?user=${run.koodriveUserId}"`,
);
