import type { AuditStore } from "../../audit/store";
import { type Bindings, loadConfig } from "../../env";
import type { HandoverRequest } from "../../offboarding/actions";
import { newRunRequest, startRun } from "../../offboarding/start";
import { isObject, type ScimUser, type UserAttributes } from "./schema";
import { subjectOf } from "./subject";

const SOURCE = "scim";

/** The enterprise User extension (RFC 7643 4.3): its `manager.value` is the SCIM id of the user's manager. */
export const ENTERPRISE_SCHEMA = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/** SCIM ids are the directory's UUIDs (or an IdP's own ids when it mints them): anything longer is not one. */
const MAX_SCIM_ID_LENGTH = 256;

/** A key of `obj` named `name` in any case (SCIM attribute names and schema URNs are case-insensitive). */
const field = (obj: Record<string, unknown>, name: string): unknown =>
  obj[Object.keys(obj).find((k) => k.toLowerCase() === name.toLowerCase()) ?? name];

/**
 * The SCIM id of the user's manager, as the directory stores the enterprise extension: `manager` is complex
 * (`{"value": id, "displayName"?}`, RFC 7643 4.3, as Okta sends it), or the id itself (Entra ID's PATCH
 * `path: "urn:...:enterprise:2.0:User:manager"` sends a plain string value).
 */
export function managerIdOf(user: UserAttributes): string | undefined {
  const extension = field(user, ENTERPRISE_SCHEMA);
  if (!isObject(extension)) return undefined;
  const manager = field(extension, "manager");
  const value = isObject(manager) ? field(manager, "value") : manager;
  if (typeof value !== "string") return undefined;
  const id = value.trim();
  return id !== "" && id.length <= MAX_SCIM_ID_LENGTH ? id : undefined;
}

/** Reads one user of the SCIM directory (the route's RPC stub, or the directory itself in its alarm). */
export type FindUser = (id: string) => Promise<ScimUser | null>;

/**
 * Who receives the leaver's files, as the directory knows it (issue 10): the manager the enterprise extension
 * names, resolved through the directory to a person (their e-mail, `externalId` as the HR id, name: the same
 * `subjectOf` as a leaver). None when the user names no manager, the manager is not in the directory, is no
 * longer active (a leaver too), or is the user themselves: the run then asks KooDrive for its recipient.
 */
export async function managerOf(user: ScimUser, find: FindUser): Promise<HandoverRequest | undefined> {
  const id = managerIdOf(user.attributes);
  if (id === undefined || id === user.id) return undefined;
  const manager = await find(id);
  if (!manager?.attributes.active) return undefined;
  const person = subjectOf(manager.id, manager.attributes);
  const leaver = subjectOf(user.id, user.attributes);
  if (person.hrId === leaver.hrId || (person.email !== undefined && person.email === leaver.email))
    return undefined;
  return { person, from: "scim_manager" };
}

/**
 * Starts the run of a user's `n`-th deactivation. Keyed by the user's id and `n`, so whoever calls it again
 * (the IdP repeating its request, the directory's recovery alarm) finds the same run. SCIM cannot ask for
 * actions: the run takes all of the policy's (OFFBOARDING_ACTIONS).
 */
export async function startDeprovisioning(
  env: Bindings,
  audit: AuditStore,
  user: ScimUser,
  n: number,
  how: string,
  requestId: string,
  find: FindUser,
): Promise<{ runId: string; duplicate: boolean }> {
  const eventId = `${user.id}:${n}`;
  const actions = [...loadConfig(env).OFFBOARDING_ACTIONS];
  const handoverTo = actions.includes("handover") ? await managerOf(user, find) : undefined;
  const request = await newRunRequest({
    source: SOURCE,
    eventId,
    subject: subjectOf(user.id, user.attributes),
    reason: `SCIM ${how}`,
    actions,
    ...(handoverTo ? { handoverTo } : {}),
    requestId,
  });
  return startRun(env, audit, request);
}
