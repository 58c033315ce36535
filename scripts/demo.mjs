#!/usr/bin/env node
// `npm run demo`: sends a correctly signed Standard Webhooks HR event for the demo leaver to the local
// service (started with `npm start`), waits for the run and prints its result. `-- --dry-run` plans only;
// `-- --actions revoke_shares,handover,block_login` asks for more than the shares (default: revoke_shares).
import { createHmac, randomUUID } from "node:crypto";
import { ensureDevVars, SERVICE_URL } from "./dev-vars.mjs";

const vars = ensureDevVars();
const dryRun = process.argv.includes("--dry-run");
const actionsAt = process.argv.indexOf("--actions");
const actions = (actionsAt > 0 ? (process.argv[actionsAt + 1] ?? "") : "revoke_shares")
  .split(",")
  .filter(Boolean);
const secret = vars.HR_WEBHOOK_SECRETS.split(/\s+/)[0];
const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");

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
const accepted = await res.json();
console.log(`-> ${res.status} ${JSON.stringify(accepted)}`);
if (res.status !== 202) process.exit(1);

const admin = { authorization: `Bearer ${vars.ADMIN_TOKEN}` };
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
