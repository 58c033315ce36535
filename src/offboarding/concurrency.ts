/** Small concurrency helpers for the run's steps (no I/O of their own). */

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Runs at most `n` of the functions given to it at once. */
export function limiter(n: number) {
  let active = 0;
  const waiting: Array<() => void> = [];
  return async <T>(fn: () => Promise<T>): Promise<T> => {
    while (active >= n) await new Promise<void>((resolve) => waiting.push(resolve));
    active++;
    try {
      return await fn();
    } finally {
      active--;
      waiting.shift()?.();
    }
  };
}

/** Waits for every promise; then throws the first failure, if any (nothing is left running unrecorded). */
export async function settleAll(promises: Promise<unknown>[]): Promise<void> {
  const results = await Promise.allSettled(promises);
  const failure = results.find((r) => r.status === "rejected");
  if (failure) throw failure.reason;
}
