import type { Bindings, Config } from "../env";
import type { GovernorSnapshot } from "../koodrive/governor/bucket";
import { governorOf } from "../services";

/** What `GET /governor` answers: the governor's snapshot with its moments as ISO times. */
export type GovernorView =
  | { enabled: false; ceiling: 0 }
  | (Omit<GovernorSnapshot, "pausedUntil" | "recent429s"> & {
      enabled: true;
      pausedUntil: string | null;
      recent429s: string[];
    });

/** The rate governor's state for this deployment's KooDrive app (off when KOODRIVE_MAX_RPS is 0). */
export async function governorView(env: Bindings, config: Config): Promise<GovernorView> {
  if (config.KOODRIVE_MAX_RPS === 0) return { enabled: false, ceiling: 0 };
  return viewOf(await governorOf(env.GOVERNOR, config).state(config.KOODRIVE_MAX_RPS));
}

/**
 * Makes the governor forget the limit it learned (kept in its storage): it slow-starts again from the
 * default rate (docs/operations.md "The rate governor"). Returns the state before and after.
 */
export async function resetGovernor(
  env: Bindings,
  config: Config,
): Promise<{ before: GovernorView; after: GovernorView }> {
  const before = await governorView(env, config);
  if (!before.enabled) return { before, after: before };
  const after = await governorOf(env.GOVERNOR, config).reset(config.KOODRIVE_MAX_RPS);
  return { before, after: viewOf(after) };
}

function viewOf(s: GovernorSnapshot): GovernorView {
  return {
    ...s,
    enabled: true,
    pausedUntil: s.pausedUntil ? new Date(s.pausedUntil).toISOString() : null,
    recent429s: s.recent429s.map((t) => new Date(t).toISOString()),
  };
}
