import type { AuditStore } from "../../audit/store";
import type { Bindings } from "../../env";
import { runIdFor, startRun } from "../../offboarding/start";
import { ALL_SCOPES } from "../../offboarding/types";
import type { ScimUser } from "./directory";
import { subjectOf } from "./resource";

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
  return startRun(env, audit, {
    runId: await runIdFor(SOURCE, eventId),
    source: SOURCE,
    eventId,
    subject: subjectOf(user.id, user.attributes),
    reason: `SCIM ${how}`,
    dryRun: false,
    scopes: [...ALL_SCOPES],
    requestId,
    receivedAt: new Date().toISOString(),
    actor: `source:${SOURCE}`,
  });
}
