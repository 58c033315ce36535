import { identityEmailKey, identityHrKey } from "../audit/keys";
import { CODE_NOT_FOUND, type KooDriveClient, KooDriveError } from "../koodrive/client";
import type { NameMatchPolicy, ResolvedBy, RunRequest } from "./types";

export interface IdentityEntry {
  koodriveUserId: string;
  email?: string;
  hrId?: string;
  name?: string;
  updatedAt: string;
  updatedBy: string;
}

export type Resolution =
  | {
      ok: true;
      userId: string;
      by: ResolvedBy;
      detail: string;
      /** A name match under the `confirm` policy: nothing is cancelled until an operator confirms it. */
      needsConfirmation: boolean;
      /** The KooDrive user's name, as KooDrive knows it (shown to the operator who confirms). */
      name?: string;
    }
  | { ok: false; detail: string };

export interface ResolveDeps {
  kv: KVNamespace;
  client: KooDriveClient;
  /** The directory user the app acts as for user calls; name matching is impossible without one. */
  directoryUserId: string | undefined;
  /** What a unique exact name match may do (the run's recorded policy). */
  nameMatch: NameMatchPolicy;
}

/**
 * Whether KooDrive has this user (`GET /users/{id}`): a leaver named by id who does not exist must end
 * `unresolved`, never "completed, 0 cancelled". KooDrive's answer for an unknown user is not documented; we
 * read "resource does not exist" (13000309), as for every other missing resource, as "no such user"
 * [inferred; koodrive-api.md "Users" is silent].
 */
export async function userExists(
  client: KooDriveClient,
  actingUserId: string,
  userId: string,
): Promise<{ exists: true; name: string } | { exists: false }> {
  try {
    const user = await client.getUser(actingUserId, userId);
    return { exists: true, name: user.name };
  } catch (err) {
    if (err instanceof KooDriveError && err.code === CODE_NOT_FOUND) return { exists: false };
    throw err; // anything else (outage, bad credentials) is retried by the step, never read as "absent"
  }
}

/**
 * Finds the leaver's KooDrive user id. In order: the id in the event; the identity map (e-mail, then HR
 * id); then, only where the policy allows it, a unique exact name match in KooDrive's user list. An id from
 * the event or the map must belong to an existing KooDrive user. Never guesses: a name match acts only
 * with `auto`, waits for an operator with `confirm`, and is not tried with `off` (the default).
 */
export async function resolveLeaver(subject: RunRequest["subject"], deps: ResolveDeps): Promise<Resolution> {
  const known = async (userId: string, by: ResolvedBy, from: string): Promise<Resolution> => {
    // Asked as the leaver themselves (app authentication names any user [inferred]): the answer then
    // depends on that user alone, not on whether a directory user is configured and exists.
    const found = await userExists(deps.client, userId, userId);
    if (!found.exists) return { ok: false, detail: `KooDrive has no user ${userId} (${from})` };
    return { ok: true, userId, by, detail: from, needsConfirmation: false, name: found.name };
  };

  if (subject.koodriveUserId) return known(subject.koodriveUserId, "event", "koodriveUserId in the event");
  const keys = [
    ...(subject.email ? [await identityEmailKey(subject.email)] : []),
    await identityHrKey(subject.hrId),
  ];
  for (const key of keys) {
    const entry = await deps.kv.get<IdentityEntry>(key, "json");
    if (entry?.koodriveUserId) return known(entry.koodriveUserId, "identity_map", `identity map ${key}`);
  }

  // What an operator can do about it: the map is how a person is found without guessing.
  const addToMap = subject.email
    ? `add ${subject.email} to the identity map (PUT /identities)`
    : `add HR id ${subject.hrId} to the identity map (PUT /identities)`;
  const name = subject.name?.trim();
  if (!name) return { ok: false, detail: `no koodriveUserId and no identity map entry: ${addToMap}` };
  if (deps.nameMatch === "off") {
    return {
      ok: false,
      detail: `no identity map entry; name matching is off (RESOLVE_BY_NAME=off): ${addToMap}`,
    };
  }
  if (!deps.directoryUserId) {
    return {
      ok: false,
      detail: `no identity map entry; name matching needs KOODRIVE_DIRECTORY_USER_ID: ${addToMap}`,
    };
  }
  const candidates = await deps.client.findUsersByName(deps.directoryUserId, name);
  const exact = candidates.filter((u) => u.name.trim().toLowerCase() === name.toLowerCase());
  const unique = [...new Map(exact.map((u) => [u.userId, u])).values()];
  const match = unique.length === 1 ? unique[0] : undefined;
  if (!match) {
    return {
      ok: false,
      detail:
        unique.length === 0
          ? `no identity map entry and no KooDrive user named "${name}": ${addToMap}`
          : `no identity map entry and ${unique.length} KooDrive users named "${name}", not guessing: ${addToMap}`,
    };
  }
  const confirm = deps.nameMatch === "confirm";
  return {
    ok: true,
    userId: match.userId,
    by: "name_match",
    name: match.name,
    needsConfirmation: confirm,
    detail: confirm
      ? `name match "${name}" -> KooDrive user ${match.userId}: waiting for an operator to confirm (POST /runs/:id/confirm); ${addToMap} to skip this next time`
      : `unique exact name match "${name}" (RESOLVE_BY_NAME=auto)`,
  };
}
