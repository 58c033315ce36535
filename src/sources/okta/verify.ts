/**
 * Okta Event Hooks authenticate with a fixed header Okta was configured to send (usually `Authorization`):
 * no signature, no timestamp [webhook-sources.md], so the value is compared in constant time with every
 * configured secret (two while rotating). Pure.
 * @see https://developer.okta.com/docs/concepts/event-hooks/
 */
import type { Verdict } from "../../auth";
import { matchesAnySecret } from "../../http";

/** The header Okta sends (`OKTA_EVENT_HOOK_HEADER`, lower case) and the values it may carry. */
export interface OktaSecrets {
  header: string;
  values: readonly string[];
}

export async function verifyOktaSecret(
  _rawBody: Uint8Array,
  headers: Headers,
  secrets: OktaSecrets,
  _now: number,
): Promise<Verdict> {
  const given = headers.get(secrets.header);
  if (!given) return { ok: false, reason: "missing_secret" };
  return (await matchesAnySecret(given, secrets.values))
    ? { ok: true }
    : { ok: false, reason: "wrong_secret" };
}
