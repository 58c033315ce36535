// Small helpers of the browser test: assertions, page visits that check what every page must have, and
// screenshots of a bounded size for docs/console/.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { assertNoProblems, SERVICE } from "./harness.mjs";

/** Where the screenshots go (the README's "Admin console" section shows them); override for a dry look. */
export const SHOTS_DIR = process.env.SCREENSHOT_DIR ?? "docs/console";
/**
 * The tallest screenshot, in CSS pixels: a long page (a run's 36 shares, the API reference) is cut here so
 * that the PNGs stay small enough to keep in the repository and still show the page's top and its tables.
 */
const MAX_SHOT_HEIGHT = 1200;
/** How long a step waits for an element or a navigation before failing. */
export const STEP_TIMEOUT_MS = 20_000;

export function assert(ok, message) {
  if (!ok) throw new Error(message);
}

/**
 * Opens a console page and checks what every page has: 200, its `<h1>`, the local-identity banner, the
 * verified actor with role admin, and no problem recorded by the browser.
 */
export async function visit(ctx, path, { h1 } = {}) {
  const res = await ctx.page.goto(`${SERVICE}${path}`, { waitUntil: "load" });
  assert(res?.status() === 200, `GET ${path}: HTTP ${res?.status()}`);
  await checkFrame(ctx, path, h1);
}

/** The checks of `visit` for the page now shown (after a form post or a click). */
export async function checkFrame(ctx, what, h1) {
  const { page } = ctx;
  const heading = page.locator("main h1");
  await heading.waitFor({ timeout: STEP_TIMEOUT_MS });
  const title = (await heading.textContent())?.trim() ?? "";
  if (h1) assert(h1 instanceof RegExp ? h1.test(title) : title === h1, `${what}: h1 is "${title}"`);
  assert(
    (await page.getByRole("alert").filter({ hasText: "Local identity" }).count()) === 1,
    `${what}: the local-identity banner is missing`,
  );
  const who = (await page.getByTestId("who").textContent()) ?? "";
  assert(/local:\S+.*role\s*admin/s.test(who), `${what}: header does not name the local admin: "${who}"`);
  assertNoProblems(ctx.problems, what);
}

/** A PNG of the page as shown (its top MAX_SHOT_HEIGHT pixels), named after the page. */
export async function shot(ctx, name) {
  mkdirSync(SHOTS_DIR, { recursive: true });
  const { page } = ctx;
  const size = page.viewportSize();
  const height = await page.evaluate(() => document.documentElement.scrollHeight);
  const path = join(SHOTS_DIR, `${name}.png`);
  await page.screenshot({
    path,
    fullPage: true,
    clip: { x: 0, y: 0, width: size.width, height: Math.min(height, MAX_SHOT_HEIGHT) },
    animations: "disabled",
    caret: "hide",
  });
  ctx.shots.push(path);
}

/**
 * Runs `fn` expecting the browser to log exactly one "Failed to load resource" console error for an answer
 * of `status` (Chromium logs every 4xx document load so, e.g. the identities upload's 422); anything else,
 * or no such message, fails the step.
 */
export async function expectingOneFailedLoad(ctx, status, what, fn) {
  const before = ctx.problems.length;
  await fn();
  const added = ctx.problems.splice(before);
  const expected = added.filter(
    (p) => p.startsWith("console error: Failed to load resource") && p.includes(`status of ${status}`),
  );
  const other = added.filter((p) => !expected.includes(p));
  assert(
    expected.length === 1,
    `${what}: expected one failed load (${status}), got ${JSON.stringify(added)}`,
  );
  assertNoProblems(other, what);
}

/** Polls `fn` until it returns a truthy value. */
export async function until(fn, what, timeoutMs = 60_000, everyMs = 500) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
