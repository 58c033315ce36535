import { identityEmailKey, identityHrKey } from "../audit/keys";
import type { KooDriveClient } from "../koodrive/client";
import type { RunRequest } from "./types";

export interface IdentityEntry {
  koodriveUserId: string;
  email?: string;
  hrId?: string;
  name?: string;
  updatedAt: string;
  updatedBy: string;
}

export type Resolution =
  | { ok: true; userId: string; by: "event" | "identity_map" | "name_match"; detail: string }
  | { ok: false; detail: string };

export interface ResolveDeps {
  kv: KVNamespace;
  client: KooDriveClient;
  /** The directory user the app acts as for the user list; name matching is off without one. */
  directoryUserId: string | undefined;
}

/**
 * Finds the leaver's KooDrive user id. In order: the id in the event; the identity map (e-mail, then HR
 * id); a unique exact name match in KooDrive's user list. Never guesses: anything else is unresolved.
 */
export async function resolveLeaver(subject: RunRequest["subject"], deps: ResolveDeps): Promise<Resolution> {
  if (subject.koodriveUserId) {
    return { ok: true, userId: subject.koodriveUserId, by: "event", detail: "koodriveUserId in the event" };
  }
  const keys = [
    ...(subject.email ? [await identityEmailKey(subject.email)] : []),
    await identityHrKey(subject.hrId),
  ];
  for (const key of keys) {
    const entry = await deps.kv.get<IdentityEntry>(key, "json");
    if (entry?.koodriveUserId) {
      return { ok: true, userId: entry.koodriveUserId, by: "identity_map", detail: `identity map ${key}` };
    }
  }
  const name = subject.name?.trim();
  if (!name) return { ok: false, detail: "no koodriveUserId, no identity map entry, and no name to match" };
  if (!deps.directoryUserId) {
    return {
      ok: false,
      detail: "no identity map entry; name matching is off (KOODRIVE_DIRECTORY_USER_ID not set)",
    };
  }
  const candidates = await deps.client.findUsersByName(deps.directoryUserId, name);
  const exact = candidates.filter((u) => u.name.trim().toLowerCase() === name.toLowerCase());
  const unique = [...new Map(exact.map((u) => [u.userId, u])).values()];
  if (unique.length === 1 && unique[0]) {
    return {
      ok: true,
      userId: unique[0].userId,
      by: "name_match",
      detail: `unique exact name match "${name}"`,
    };
  }
  return {
    ok: false,
    detail:
      unique.length === 0
        ? `no identity map entry and no KooDrive user named "${name}"`
        : `no identity map entry and ${unique.length} KooDrive users named "${name}": not guessing`,
  };
}
