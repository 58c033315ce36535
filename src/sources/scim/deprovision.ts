import type { AuditStore } from "../../audit/store";
import type { Bindings } from "../../env";
import { newRunRequest, startRun } from "../../offboarding/start";
import type { ScimUser } from "./schema";
import { subjectOf } from "./subject";

const SOURCE = "scim";

/**
 * Starts the run of a user's `n`-th deactivation. Keyed by the user's id and `n`, so whoever calls it again
 * (the IdP repeating its request, the directory's recovery alarm) finds the same run.
 */
export async function startDeprovisioning(
  env: Bindings,
  audit: AuditStore,
  user: ScimUser,
  n: number,
  how: string,
  requestId: string,
): Promise<{ runId: string; duplicate: boolean }> {
  const eventId = `${user.id}:${n}`;
  const request = await newRunRequest({
    source: SOURCE,
    eventId,
    subject: subjectOf(user.id, user.attributes),
    reason: `SCIM ${how}`,
    requestId,
  });
  return startRun(env, audit, request);
}
