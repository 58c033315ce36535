/**
 * People the sources named who have no identity-map entry: who they are, their key and when they were last
 * seen. Pure: the shapes, the keys and name normalisation, shared by the store, the recorder and the API.
 */

/** Which source last named a person. */
export const SEEN_SOURCES = ["hr", "okta", "scim"] as const;
export type SeenSource = (typeof SEEN_SOURCES)[number];

/** A person as a source names them: an e-mail and/or a source id (HR id, Okta id, SCIM externalId), a name. */
export interface PersonSeen {
  /** `email:<lower-case e-mail>` when there is an e-mail, else `hr:<id>`: the identity map's labels. */
  key: string;
  email?: string;
  hrId?: string;
  name: string;
}

/** What the store keeps of one person (no payload, no secret: these fields only). */
export interface SeenRow extends PersonSeen {
  source: SeenSource;
  firstSeenAt: string;
  lastSeenAt: string;
  dismissedAt?: string;
  dismissedBy?: string;
}

/**
 * Names longer than this are cut (the sources' own limit: HR and Okta schemas, SCIM subjects): a name is
 * shown and searched, never matched on more.
 */
export const MAX_NAME_CHARS = 200;

/**
 * A name as two directories are compared on it: Unicode compatibility form (full-width letters, ligatures),
 * white space collapsed, trimmed, lower case. "Jordan  Lee" and "jordan lee" are the same name; "Jordan
 * Lee-Smith" is not "Jordan Lee" (KooDrive's `keyWord` is a substring match, koodrive-api.md "Users", so
 * equality is checked here after the search).
 */
export function normalizeName(name: string): string {
  return name.normalize("NFKC").replace(/\s+/g, " ").trim().toLowerCase();
}

/** The text sent as KooDrive's `keyWord`: the name as the source wrote it, white space collapsed. */
export const searchTextOf = (name: string) => name.normalize("NFKC").replace(/\s+/g, " ").trim();

/**
 * The person a source names, or null when there is nothing to suggest: no name (a match is by name) or no
 * key. The e-mail is lower-cased and the id trimmed, exactly as `PUT /identities` stores them.
 */
export function personOf(input: {
  email?: string | undefined;
  hrId?: string | undefined;
  name?: string | null | undefined;
}): PersonSeen | null {
  const name = input.name ? searchTextOf(input.name).slice(0, MAX_NAME_CHARS) : "";
  const email = input.email?.trim().toLowerCase() || undefined;
  const hrId = input.hrId?.trim() || undefined;
  if (!name || !(email || hrId)) return null;
  return {
    key: email ? `email:${email}` : `hr:${hrId}`,
    ...(email ? { email } : {}),
    ...(hrId ? { hrId } : {}),
    name,
  };
}

/**
 * An admin's key as `GET /identities/:key` takes it (`email:<e-mail>`, `hr:<id>` or a bare e-mail), in the
 * store's form.
 */
export function canonicalKey(key: string): string {
  const k = key.trim();
  if (k.startsWith("hr:")) return `hr:${k.slice(3).trim()}`;
  return `email:${(k.startsWith("email:") ? k.slice(6) : k).trim().toLowerCase()}`;
}
