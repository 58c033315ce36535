/** Roles and verified principals of the admin surface (issue 9). A leaf: env.ts and the run request use its types. */

export const ROLES = ["viewer", "operator", "admin"] as const;
export type Role = (typeof ROLES)[number];

/** How a principal was verified; recorded with every admin audit record (`verifiedBy`). */
export type VerifiedBy = "cloudflare-access" | "access-service-token" | "api-token" | "break-glass" | "local";

export interface Principal {
  /** The verified identity as recorded: an e-mail, `token:<name> (<id>)`, `break-glass`, `local:<e-mail>`. */
  actor: string;
  role: Role;
  verifiedBy: VerifiedBy;
  /** The API token's id, when the credential was one. */
  tokenId?: string;
}

/** Whether a principal with `have` may do what needs `need` (viewer < operator < admin). */
export function roleAllows(have: Role, need: Role): boolean {
  return ROLES.indexOf(have) >= ROLES.indexOf(need);
}
