/** The API token format and its stored form (issue 9 "Scoped API tokens"). Pure. */
import { bytesToBase64, sha256Hex } from "../../bytes";

/** Every API token starts with this, so a leaked one is recognisable (secret scanners, logs). */
export const TOKEN_PREFIX = "kdo_";
/** Random bytes in a token: 256 bits, far beyond guessing. */
export const TOKEN_BYTES = 32;
/** `kdo_` and 32 bytes in unpadded base64url (43 characters). */
export const TOKEN_PATTERN = /^kdo_[A-Za-z0-9_-]{43}$/;

/** A fresh token: `kdo_` + 32 random bytes, base64url without padding. Shown once, never stored. */
export function newToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(TOKEN_BYTES));
  const b64url = bytesToBase64(bytes).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
  return `${TOKEN_PREFIX}${b64url}`;
}

/**
 * What is stored and looked up: SHA-256 of the whole token, hex. A plain hash suffices (no salt or slow
 * hash): the token is 256 random bits, not a password a dictionary could guess.
 */
export const tokenHash = (token: string): Promise<string> => sha256Hex(token);
