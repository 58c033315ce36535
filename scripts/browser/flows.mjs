// The browser test's steps (issue 9 "Done when"): each drives the console as an admin would, with the
// labels and buttons a person (or a screen reader) sees, checks the outcome in the page and, where it
// matters, through the API from node (an independent look at the state), and takes the page's screenshot.
import { readFileSync } from "node:fs";
import Papa from "papaparse";
import { assert, checkFrame, expectingOneFailedLoad, STEP_TIMEOUT_MS, shot, visit } from "./check.mjs";
import { SERVICE } from "./harness.mjs";
import { UNMAPPED_PEOPLE } from "./seed.mjs";

const LEAVER_EMAIL = "dana.leaver@example.com";
/** How long the real run against the simulator may take to reach `completed` (it takes seconds). */
const RUN_TIMEOUT_MS = 90_000;
/** A share id for the hold (any 19 digits: a hold may name a share before it exists). */
const HOLD_SHARE_ID = "1689759841444199999";
const TOKEN_PATTERN = /kdo_[A-Za-z0-9_-]{43}/;

const api = (ctx, path, init = {}) =>
  fetch(`${SERVICE}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${ctx.vars.ADMIN_TOKEN}`, ...(init.headers ?? {}) },
  });

/** Overview (its screenshot is taken last, with every run made), and the keyboard: the skip link is the first tab stop, focus is visible, it moves to main. */
export async function overview(ctx) {
  const { page } = ctx;
  await visit(ctx, "/console", { h1: "Overview" });
  await page.keyboard.press("Tab");
  const first = await page.evaluate(() => {
    const el = document.activeElement;
    const style = el ? getComputedStyle(el) : null;
    const box = el?.getBoundingClientRect();
    return {
      text: el?.textContent?.trim(),
      href: el?.getAttribute("href"),
      outline: style ? `${style.outlineStyle} ${style.outlineWidth}` : "",
      onScreen: box ? box.left >= 0 && box.top >= 0 && box.width > 0 : false,
    };
  });
  assert(
    first.text === "Skip to content" && first.href === "#main",
    `first tab stop: ${JSON.stringify(first)}`,
  );
  assert(first.onScreen, "the skip link is not shown when focused");
  assert(
    !first.outline.startsWith("none") && !first.outline.endsWith(" 0px"),
    `no focus ring: ${first.outline}`,
  );
  await page.keyboard.press("Enter");
  assert(
    (await page.evaluate(() => document.activeElement?.id)) === "main",
    "the skip link does not move focus to main",
  );
  // The next tab stop after main is inside it and shows the focus ring too.
  await page.keyboard.press("Tab");
  const next = await page.evaluate(() => {
    const el = document.activeElement;
    return { inMain: !!el?.closest("main"), outline: el ? getComputedStyle(el).outlineStyle : "none" };
  });
  assert(next.inMain && next.outline !== "none", `focus after the skip link: ${JSON.stringify(next)}`);
}

/** Offboard someone: dry run, the plan, "Cancel N shares", the run followed live to `completed`. */
export async function offboard(ctx) {
  const { page } = ctx;
  await visit(ctx, "/console/offboard", { h1: "Offboard someone" });
  await page.getByLabel(/^Person/).fill(LEAVER_EMAIL);
  await page.getByLabel(/^Reason/).fill("Resigned (browser test)");
  // Only the shares: untick every other action npm start's policy allows (ticked by default).
  for (const box of await page
    .locator('input[type="checkbox"][name="action"]:not([value="revoke_shares"])')
    .all())
    await box.uncheck();
  await page.getByRole("button", { name: "Dry run: show the plan" }).click();
  // The plan page follows the dry run ("Planning…") and reloads itself with the plan when it is done.
  const confirm = page.getByRole("button", { name: /^Cancel \d+ shares?$/ });
  await confirm.waitFor({ timeout: RUN_TIMEOUT_MS });
  await checkFrame(ctx, "offboard plan", "The plan");
  const label = (await confirm.textContent())?.trim() ?? "";
  ctx.planned = Number(/\d+/.exec(label)?.[0]);
  assert(ctx.planned > 0, `the plan cancels nothing: "${label}"`);
  const plan = (await page.getByTestId("plan").locator("h2").textContent()) ?? "";
  assert(plan.startsWith(`${ctx.planned} shares would be cancelled`), `plan heading: "${plan}"`);
  const byScope = await page.getByTestId("plan-by-scope").locator('td[data-cell="cancel"]').allTextContents();
  const sum = byScope.reduce((a, n) => a + Number(n), 0);
  assert(sum === ctx.planned, `plan by scope adds up to ${sum}, not ${ctx.planned}`);
  await shot(ctx, "offboard-plan");

  // The typed confirmation: the number of shares, as the page asks.
  await page.getByLabel(/to confirm/).fill(String(ctx.planned));
  await confirm.click();
  await page.waitForURL(/\/console\/runs\/[^/?]+/, { timeout: STEP_TIMEOUT_MS });
  ctx.runId = decodeURIComponent(/\/console\/runs\/([^/?]+)/.exec(page.url())[1]);
  // The page follows the run (its script polls and reloads at the end): wait for the reload to show it.
  await page
    .locator("main .badge", { hasText: /^completed$/ })
    .first()
    .waitFor({ timeout: RUN_TIMEOUT_MS });
  await checkFrame(ctx, "run page", /Run /);
  const run = await (await api(ctx, `/runs/${ctx.runId}`)).json();
  assert(run.status === "completed", `the API says the run is ${run.status}`);
  assert(run.counts.cancelled === ctx.planned, `cancelled ${run.counts.cancelled}, planned ${ctx.planned}`);
  ctx.run = run;
  await shot(ctx, "run");
}

/** The CSV export, downloaded by the browser with the local identity: header + one row per share. */
export async function exportCsv(ctx) {
  const { page } = ctx;
  const [download] = await Promise.all([
    page.waitForEvent("download", { timeout: STEP_TIMEOUT_MS }),
    page.getByRole("link", { name: "Export CSV" }).click(),
  ]);
  const text = readFileSync(await download.path(), "utf8");
  const { data, errors } = Papa.parse(text.trim(), { header: true });
  assert(errors.length === 0, `CSV does not parse: ${JSON.stringify(errors.slice(0, 3))}`);
  assert(text.startsWith("runId,shareId,scope,displayName,"), `CSV header: ${text.slice(0, 80)}`);
  assert(
    data.length === ctx.run.counts.total,
    `CSV has ${data.length} rows, run has ${ctx.run.counts.total}`,
  );
  assert(
    data.every((r) => r.runId === ctx.runId),
    "a CSV row names another run",
  );
  const cancelled = data.filter((r) => r.state === "cancelled").length;
  assert(cancelled === ctx.planned, `CSV: ${cancelled} cancelled rows, plan said ${ctx.planned}`);
  assertNoFailures(ctx, "export");
}

function assertNoFailures(ctx, what) {
  assert(ctx.problems.length === 0, `${what}: ${ctx.problems.join("\n")}`);
}

/** The run's evidence page (printable). */
export async function evidence(ctx) {
  await visit(ctx, `/console/runs/${encodeURIComponent(ctx.runId)}/evidence`);
  const text = (await ctx.page.locator("main").textContent()) ?? "";
  assert(text.includes(LEAVER_EMAIL) || text.includes("Dana Leaver"), "evidence does not name the leaver");
  await shot(ctx, "evidence");
}

/** The runs list shows the run just made. */
export async function runs(ctx) {
  await visit(ctx, "/console/runs", { h1: /runs/i });
  const link = ctx.page.locator(`main a[href*="${ctx.runId}"]`);
  assert((await link.count()) > 0, "the runs list does not link the run just made");
  await shot(ctx, "runs");
}

/** Holds: add one, see it, remove it through the confirmation page, see it gone (and in the API). */
export async function holds(ctx) {
  const { page } = ctx;
  await visit(ctx, "/console/holds", { h1: "Holds" });
  await page.getByLabel("Kind").selectOption("share");
  await page.getByLabel(/KooDrive id/).fill(HOLD_SHARE_ID);
  await page.getByLabel(/Reason/).fill("Legal hold LH-2026-7 (browser test)");
  await page.getByRole("button", { name: "Add hold" }).click();
  await page.getByText("Hold added.").waitFor({ timeout: STEP_TIMEOUT_MS });
  await checkFrame(ctx, "hold added", "Holds");
  const row = page.getByTestId("holds").locator("tr", { hasText: HOLD_SHARE_ID });
  assert((await row.count()) === 1, "the new hold is not listed");
  const listed = await (await api(ctx, "/holds")).json();
  assert(JSON.stringify(listed).includes(HOLD_SHARE_ID), "the API does not list the new hold");
  await shot(ctx, "holds");

  await row.getByRole("link", { name: /Remove/ }).click();
  await checkFrame(ctx, "remove hold confirmation", "Remove this hold?");
  await shot(ctx, "holds-remove");
  await page.getByRole("button", { name: "Remove hold" }).click();
  await page.getByText("Hold removed.").waitFor({ timeout: STEP_TIMEOUT_MS });
  await checkFrame(ctx, "hold removed", "Holds");
  assert((await page.locator("main", { hasText: HOLD_SHARE_ID }).count()) === 0, "the hold is still listed");
  const after = await (await api(ctx, "/holds")).json();
  assert(!JSON.stringify(after).includes(HOLD_SHARE_ID), "the API still lists the removed hold");
}

/**
 * Identities: a CSV with one bad row is refused as a whole (422, the row named, nothing stored); the page
 * lists the suggested matches seeded before browsing.
 */
export async function identities(ctx) {
  const { page } = ctx;
  await visit(ctx, "/console/identities", { h1: "Identities" });
  const csv = [
    "email,koodriveUserId,name",
    "riley.new@example.com,1505084218764547203,Riley New",
    "bad.row@example.com,12345,Bad Row",
  ].join("\n");
  await expectingOneFailedLoad(ctx, 422, "identities upload", async () => {
    await page.getByLabel("CSV file").setInputFiles({
      name: "identities.csv",
      mimeType: "text/csv",
      buffer: Buffer.from(csv),
    });
    await page.getByRole("button", { name: "Upload" }).click();
    await page.getByTestId("field-errors").waitFor({ timeout: STEP_TIMEOUT_MS });
  });
  const errors = (await page.getByTestId("field-errors").textContent()) ?? "";
  assert(/row 3/.test(errors), `the bad row (3) is not named: ${errors}`);
  assert(!/row 2\b/.test(errors), `the good row (2) is reported: ${errors}`);
  await checkFrame(ctx, "identities upload refused", "Identities");
  await shot(ctx, "identities-upload-error");
  const stored = await api(ctx, `/identities/${encodeURIComponent("riley.new@example.com")}`);
  assert(stored.status === 404, `the good row was stored (HTTP ${stored.status}): nothing may be`);

  await visit(ctx, "/console/identities", { h1: "Identities" });
  await shot(ctx, "identities");
  await suggestions(ctx);
}

/**
 * Suggested matches: every unmapped person the HR events named, beside their KooDrive namesakes (two for
 * Jordan Lee, one for Morgan Vale); confirming Morgan's one candidate stores the mapping (checked by API).
 */
async function suggestions(ctx) {
  const { page } = ctx;
  await page.getByRole("link", { name: "Suggested matches" }).click();
  await checkFrame(ctx, "suggested matches", "Suggested matches");
  const person = (p) => page.locator(`article[data-key="email:${p.email}"]`);
  for (const p of UNMAPPED_PEOPLE)
    assert((await person(p).count()) === 1, `no suggested match for ${p.email}`);
  const [jordan, morgan] = UNMAPPED_PEOPLE;
  const namesakes = (name) => ctx.seeded.filter((u) => u.name === name).map((u) => u.userId);
  for (const id of namesakes(jordan.name))
    assert((await person(jordan).getByText(id).count()) === 1, `Jordan Lee's candidate ${id} is missing`);
  const [morganId] = namesakes(morgan.name);
  assert((await person(morgan).getByText(morganId).count()) === 1, "Morgan Vale's candidate is missing");
  await shot(ctx, "suggestions");

  await person(morgan).getByRole("button", { name: "Confirm this match" }).click();
  await page.getByText(/Confirmed 1 match/).waitFor({ timeout: STEP_TIMEOUT_MS });
  await checkFrame(ctx, "match confirmed", "Suggested matches");
  const res = await api(ctx, `/identities/${encodeURIComponent(morgan.email)}`);
  const entry = res.ok ? await res.json() : {};
  assert(
    entry.koodriveUserId === morganId,
    `Morgan Vale is not mapped: HTTP ${res.status} ${JSON.stringify(entry)}`,
  );
  assert((await person(morgan).count()) === 0, "a confirmed person is still suggested");
}

/** API tokens: create (shown once), use it from node, revoke it (confirmed), the next call is 401. */
export async function tokens(ctx) {
  const { page } = ctx;
  await visit(ctx, "/console/tokens", { h1: "API tokens" });
  // The state directory is fresh on every run, so a fixed name cannot be taken already.
  const name = "nightly-export";
  await page.getByLabel(/^Name/).fill(name);
  await page.getByLabel("Role").selectOption("viewer");
  await page.getByRole("button", { name: "Create token" }).click();
  await checkFrame(ctx, "token created", "Token created");
  const shown = await page.getByTestId("new-token").inputValue();
  assert(
    TOKEN_PATTERN.test(shown) && shown.length === 47,
    `the new token looks wrong: ${shown.slice(0, 8)}…`,
  );
  await shot(ctx, "tokens-created");

  const withToken = (path) => fetch(`${SERVICE}${path}`, { headers: { authorization: `Bearer ${shown}` } });
  const ok = await withToken("/runs?limit=1");
  assert(ok.status === 200, `the new token does not work: HTTP ${ok.status}`);

  // Shown once: the list names it, and no page shows the secret again.
  await visit(ctx, "/console/tokens", { h1: "API tokens" });
  const row = page.getByTestId("tokens").locator("tr", { hasText: name });
  assert((await row.count()) === 1, "the token list does not name the new token");
  assert(!(await page.content()).includes(shown), "the token list shows the secret again");
  await shot(ctx, "tokens");

  await row.getByRole("link", { name: /Revoke/ }).click();
  await checkFrame(ctx, "revoke token confirmation", "Revoke this token?");
  await page.getByRole("button", { name: `Revoke ${name}` }).click();
  await page.waitForURL(/\/console\/tokens\?notice=revoked$/, { timeout: STEP_TIMEOUT_MS });
  await checkFrame(ctx, "token revoked", "API tokens");
  const denied = await withToken("/runs?limit=1");
  assert(denied.status === 401, `the revoked token still works: HTTP ${denied.status}`);
}

/** The pages not exercised above: each renders with its h1 and what it is for, no problem; screenshot. */
export async function otherPages(ctx) {
  const main = ctx.page.locator("main");
  await visit(ctx, "/console", { h1: "Overview" });
  assert((await main.getByText(/Needs attention/).count()) > 0, "the overview has no runs needing attention");
  await shot(ctx, "overview");

  await visit(ctx, "/console/inbox", { h1: "Inbox" });
  assert((await main.getByText(ctx.runId).count()) > 0, "the inbox does not show the run just made");
  await shot(ctx, "inbox");

  await visit(ctx, "/console/audit", { h1: "Audit" });
  assert((await main.getByText("local:local-admin@example.com").count()) > 0, "audit names no local actor");
  await shot(ctx, "audit");

  await visit(ctx, "/console/api", { h1: /API/ });
  assert(
    (await main.locator('a[href="/openapi.json"]').count()) > 0,
    "the API reference does not link /openapi.json",
  );
  const openapi = await ctx.page.request.get(`${SERVICE}/openapi.json`);
  assert(
    openapi.ok() && (await openapi.json()).openapi?.startsWith("3.1"),
    "GET /openapi.json is no OpenAPI 3.1",
  );
  await shot(ctx, "api");
}

/** Phone width: the overview and the run page are readable without sideways scrolling. */
export async function phone(ctx) {
  for (const [path, name] of [
    ["/console", "overview-phone"],
    [`/console/runs/${encodeURIComponent(ctx.runId)}`, "run-phone"],
  ]) {
    await visit(ctx, path);
    const wide = await ctx.page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert(wide <= 1, `${path} at phone width scrolls sideways by ${wide}px`);
    await shot(ctx, name);
  }
}
