/**
 * Helpers for tests of the Workers Rate Limiting bindings (SECURITY_AUDIT_LIMITER, CHAT_REFUSAL_LIMITER).
 * Their windows are fixed and aligned to the wall clock (`period = 60` in wrangler.toml; Miniflare counts
 * per `floor(now / period)`), so a burst that straddles a minute boundary is counted against two windows.
 * A test that asserts a cap first makes sure its burst fits in one window.
 */
import { vi } from "vitest";

/** The `period` of both limiters in wrangler.toml, in milliseconds. */
export const RATE_WINDOW_MS = 60_000;

/** Waits, if needed, until at least `neededMs` remain in the current rate-limit window. */
export async function withinOneWindow(neededMs: number): Promise<void> {
  const left = RATE_WINDOW_MS - (Date.now() % RATE_WINDOW_MS);
  if (left < neededMs) await new Promise((r) => setTimeout(r, left + 50));
}

/** A structured log line the Worker wrote (the tests and the Worker share one isolate, so one console). */
export interface LogLine {
  msg?: string;
  ip?: string;
  source?: string;
  audited?: boolean;
  [key: string]: unknown;
}

/** Collects the Worker's `console.warn` JSON lines while `fn` runs (they are still printed). */
export async function captureWarnings(fn: () => Promise<void>): Promise<LogLine[]> {
  const lines: LogLine[] = [];
  const original = console.warn.bind(console);
  const spy = vi.spyOn(console, "warn").mockImplementation((...args: unknown[]) => {
    if (typeof args[0] === "string" && args[0].startsWith("{")) lines.push(JSON.parse(args[0]) as LogLine);
    original(...args);
  });
  try {
    await fn();
  } finally {
    spy.mockRestore();
  }
  return lines;
}
