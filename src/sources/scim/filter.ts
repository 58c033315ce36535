import { ScimError } from "./errors";

/** The attributes a `GET /Users?filter=` may compare: what IdPs look a user up by before provisioning. */
export const FILTER_ATTRIBUTES = ["userName", "externalId", "id"] as const;

/** `attr eq "value"`, the one filter we answer. */
export interface ScimFilter {
  attr: (typeof FILTER_ATTRIBUTES)[number];
  value: string;
}

/** RFC 7644 3.4.2.2: attribute names are case-insensitive, the value a JSON string (`\"` and `\\` escaped). */
const EQ_FILTER = /^\s*(userName|externalId|id)\s+eq\s+"((?:[^"\\]|\\.)*)"\s*$/i;

/**
 * Parses `?filter=`, pure: none (or blank) is null, i.e. everyone; `attr eq "value"` on userName,
 * externalId or id is a ScimFilter; anything else is a 400 `invalidFilter` (RFC 7644 3.12), never a guess.
 */
export function parseFilter(filter: string | undefined): ScimFilter | null {
  if (filter === undefined || filter.trim() === "") return null;
  const m = EQ_FILTER.exec(filter);
  if (!m?.[1])
    throw new ScimError(
      "bad_request",
      'only filters of the form attr eq "value" on userName, externalId or id are supported',
      "invalidFilter",
    );
  const attr = FILTER_ATTRIBUTES.find((a) => a.toLowerCase() === m[1]?.toLowerCase());
  return { attr: attr ?? "userName", value: (m[2] ?? "").replace(/\\(.)/g, "$1") };
}
