import type { Bindings } from "../../env";
import { CLOCK_MARGIN_MS, firstTime } from "../replay";
import { TEAMS_TOLERANCE_MS, type TeamsVerified } from "./verify";

/**
 * Whether this is the first delivery of a verified activity (false: a replay, already handled). Keyed by
 * conversation and activity id (Bot Framework ids are unique within a conversation), kept while the signed
 * timestamp could pass. The id is remembered before the command runs: a command runs at most once.
 */
export function firstDelivery(env: Bindings, activity: TeamsVerified): Promise<boolean> {
  const key = `${activity.conversationId}\n${activity.activityId}`;
  return firstTime(env, "teams", key, activity.sentAt + TEAMS_TOLERANCE_MS + CLOCK_MARGIN_MS);
}
