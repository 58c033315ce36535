import { Hono } from "hono";
import * as z from "zod";
import { identityEmailKey, identityHrKey } from "../audit/keys";
import { emailAddress } from "../audit/schema";
import type { AppEnv } from "../env";
import { ApiError, fieldErrors } from "../errors";
import type { IdentityEntry } from "../offboarding/resolve";
import { adminActor } from "./auth";

/**
 * Entries one `PUT /identities` may carry: each writes up to two KV keys, and one Worker invocation may
 * make at most 1,000 KV operations (Workers limits), so larger maps are loaded in several requests.
 */
export const MAX_IDENTITIES_PER_PUT = 450;

const Identity = z
  .object({
    email: emailAddress().optional(),
    hrId: z.string().trim().min(1).max(200).optional(),
    koodriveUserId: z.string().regex(/^\d{19}$/, "must be a 19-digit KooDrive user id"),
    name: z.string().trim().max(200).optional(),
  })
  .refine((i) => i.email || i.hrId, { message: "needs an email or an hrId", path: ["email"] });
type Identity = z.infer<typeof Identity>;

const Body = z.object({ identities: z.array(Identity).min(1).max(MAX_IDENTITIES_PER_PUT) });

/** Parses a CSV with a header row naming email, hrId, koodriveUserId and optionally name. */
export function parseIdentityCsv(text: string): unknown {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== "");
  const header = (lines.shift() ?? "").split(",").map((h) => h.trim());
  const identities = lines.map((line) => {
    const cells = line.split(",").map((c) => c.trim().replace(/^"(.*)"$/, "$1"));
    const entry: Record<string, string> = {};
    header.forEach((h, i) => {
      const v = cells[i];
      if (v) entry[h] = v;
    });
    return entry;
  });
  return { identities };
}

/** `PUT /identities` (JSON or CSV) bulk-loads the HR identity -> KooDrive user map; `GET /identities/:key`. */
export function identityRoutes() {
  const app = new Hono<AppEnv>();

  app.put("/", async (c) => {
    const type = c.req.header("content-type") ?? "";
    const text = await c.req.text();
    let raw: unknown;
    if (type.startsWith("text/csv")) raw = parseIdentityCsv(text);
    else if (type.startsWith("application/json")) {
      try {
        raw = JSON.parse(text);
      } catch {
        throw new ApiError("invalid_body", "the body is not valid JSON", [
          { path: "(root)", message: "not valid JSON" },
        ]);
      }
      if (Array.isArray(raw)) raw = { identities: raw };
    } else throw new ApiError("unsupported_media_type", "send application/json or text/csv");
    // Validate everything before writing anything: a bad row leaves no partial state.
    const parsed = Body.safeParse(raw);
    if (!parsed.success)
      throw new ApiError("invalid_body", "invalid identities", fieldErrors(parsed.error.issues));
    const actor = adminActor(c.req.header("x-audit-actor"));
    const now = new Date().toISOString();
    const writes: Array<[string, IdentityEntry]> = [];
    for (const i of parsed.data.identities) {
      const entry: IdentityEntry = entryFor(i, now, actor);
      if (i.email) writes.push([await identityEmailKey(i.email), entry]);
      if (i.hrId) writes.push([await identityHrKey(i.hrId), entry]);
    }
    for (let i = 0; i < writes.length; i += 50) {
      await Promise.all(writes.slice(i, i + 50).map(([k, v]) => c.env.AUDIT.put(k, JSON.stringify(v))));
    }
    await c.var.audit.write({
      type: "admin.identities",
      actor,
      requestId: c.var.requestId,
      reason: "identity map loaded",
      details: { entries: parsed.data.identities.length, keys: writes.length },
    });
    return c.json({ stored: parsed.data.identities.length, keys: writes.length });
  });

  app.get("/:key", async (c) => {
    // Hono has already decoded the path parameter: decoding again would throw on a literal "%".
    const key = c.req.param("key").trim();
    const kvKey = key.startsWith("hr:")
      ? await identityHrKey(key.slice(3))
      : await identityEmailKey(key.startsWith("email:") ? key.slice(6) : key);
    const entry = await c.env.AUDIT.get<IdentityEntry>(kvKey, "json");
    if (!entry)
      throw new ApiError("not_found", "no identity for that key (use an e-mail, email:<e-mail> or hr:<id>)");
    return c.json(entry);
  });

  return app;
}

function entryFor(i: Identity, updatedAt: string, updatedBy: string): IdentityEntry {
  return {
    koodriveUserId: i.koodriveUserId,
    ...(i.email ? { email: i.email.toLowerCase() } : {}),
    ...(i.hrId ? { hrId: i.hrId } : {}),
    ...(i.name ? { name: i.name } : {}),
    updatedAt,
    updatedBy,
  };
}
