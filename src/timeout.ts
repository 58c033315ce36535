/**
 * `p`, or a rejection with `Error(message)` once `ms` have passed without an answer; the timer is cleared
 * either way. For calls to another object that may stall rather than fail (a Durable Object under load): the
 * caller decides what a late answer means (fall back, render without it, leave it to a repair).
 */
export function within<T>(p: Promise<T> | T, ms: number, message: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([Promise.resolve(p), late]).finally(() => {
    if (timer !== undefined) clearTimeout(timer);
  });
}
