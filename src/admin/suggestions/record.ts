import type { Context } from "hono";
import { identityEmailKey, identityHrKey } from "../../audit/keys";
import type { AppEnv, Bindings } from "../../env";
import { type PersonSeen, personOf, type SeenSource } from "./people";
import { MAX_PEOPLE_PER_RECORD } from "./store";

/** The one store of people seen (`getByName("people")`). */
export const peopleSeen = (env: Bindings) => env.PEOPLE_SEEN.getByName("people");

/** Keys one KV bulk read may name (Workers KV "Read key-value pairs", bulk reads). */
const KV_BULK_READ_KEYS = 100;

/**
 * Which of these people have an identity-map entry (by e-mail or by id): they need no suggestion. Bulk
 * reads: one KV operation per 100 keys, at most 2 for the 100 people of one call.
 */
export async function mappedKeys(kv: KVNamespace, people: PersonSeen[]): Promise<Set<string>> {
  const byKvKey = new Map<string, string[]>();
  for (const p of people) {
    const kvKeys = [
      ...(p.email ? [await identityEmailKey(p.email)] : []),
      ...(p.hrId ? [await identityHrKey(p.hrId)] : []),
    ];
    for (const k of kvKeys) byKvKey.set(k, [...(byKvKey.get(k) ?? []), p.key]);
  }
  const all = [...byKvKey.keys()];
  const mapped = new Set<string>();
  for (let i = 0; i < all.length; i += KV_BULK_READ_KEYS) {
    const found = await kv.get<{ koodriveUserId?: string }>(all.slice(i, i + KV_BULK_READ_KEYS), "json");
    for (const [k, entry] of found) {
      if (entry?.koodriveUserId) for (const key of byKvKey.get(k) ?? []) mapped.add(key);
    }
  }
  return mapped;
}

/** Remembers the unmapped ones of these people (at most MAX_PEOPLE_PER_RECORD) in one write. */
export async function recordPeopleSeen(
  env: Bindings,
  source: SeenSource,
  people: PersonSeen[],
): Promise<{ added: number; updated: number }> {
  const unique = [...new Map(people.map((p) => [p.key, p])).values()].slice(0, MAX_PEOPLE_PER_RECORD);
  if (unique.length === 0) return { added: 0, updated: 0 };
  const mapped = await mappedKeys(env.AUDIT, unique);
  const unmapped = unique.filter((p) => !mapped.has(p.key));
  if (unmapped.length === 0) return { added: 0, updated: 0 };
  return peopleSeen(env).record(unmapped, source);
}

/**
 * Called by a source's route once the request is verified: remembers the people it names who have no
 * identity-map entry, for the suggested matches. Off the answer's path: it runs after the response
 * (`waitUntil`), makes no KooDrive call, at most 2 KV bulk reads and one write; a failure is
 * logged and never fails the webhook (suggestions are a convenience, the run is what matters).
 */
export function notePeopleSeen<E extends AppEnv>(
  c: Context<E>,
  source: SeenSource,
  named: Array<{ email?: string | undefined; hrId?: string | undefined; name?: string | null | undefined }>,
): void {
  const people = named.map((n) => personOf(n)).filter((p): p is PersonSeen => p !== null);
  if (people.length === 0) return;
  const task = recordPeopleSeen(c.env, source, people).catch((err: unknown) => {
    console.warn(
      JSON.stringify({
        level: "warn",
        msg: "people seen not recorded",
        source,
        requestId: c.var.requestId,
        error: String(err),
      }),
    );
  });
  try {
    c.executionCtx.waitUntil(task);
  } catch {
    // No execution context (a direct call of the app): the task runs on its own; nothing to wait for.
  }
}
