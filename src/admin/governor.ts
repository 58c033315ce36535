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
  const s = await governorOf(env.GOVERNOR, config).state(config.KOODRIVE_MAX_RPS);
  return {
    ...s,
    enabled: true,
    pausedUntil: s.pausedUntil ? new Date(s.pausedUntil).toISOString() : null,
    recent429s: s.recent429s.map((t) => new Date(t).toISOString()),
  };
}
