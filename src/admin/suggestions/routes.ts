import { Hono } from "hono";
import * as z from "zod";
import type { AppEnv } from "../../env";
import { limitBody, validate } from "../../http";
import {
  confirmSuggestions,
  dismissSuggestions,
  MAX_KEYS_PER_DISMISS,
  MAX_MATCHES_PER_CONFIRM,
} from "./confirm";
import { listSuggestions, MAX_SUGGESTIONS_PAGE } from "./suggest";

/** An identity-map key as `GET /identities/:key` takes it: `email:<e-mail>`, `hr:<id>` or an e-mail. */
const Key = z.string().trim().min(1).max(400);

export const SuggestionsQuery = z.object({
  limit: z.coerce.number().int().min(1).max(MAX_SUGGESTIONS_PAGE).default(MAX_SUGGESTIONS_PAGE),
  cursor: z.string().max(2000).optional(),
});

export const ConfirmSuggestionsBody = z.object({
  matches: z
    .array(
      z.object({
        key: Key,
        koodriveUserId: z.string().regex(/^\d{19}$/, "must be the 19-digit KooDrive user id you confirm"),
      }),
    )
    .min(1)
    .max(MAX_MATCHES_PER_CONFIRM),
});

export const DismissSuggestionsBody = z.object({ keys: z.array(Key).min(1).max(MAX_KEYS_PER_DISMISS) });

/**
 * `/identities/suggestions`: people seen from HR, Okta or SCIM without an identity-map entry, beside the
 * KooDrive users of the same name (viewer); confirm (admin) turns a match into a mapping, dismiss (admin)
 * hides a person. Roles come from the `/identities/*` guard in ../routes.ts. Thin: the console calls the
 * same functions.
 */
export function suggestionRoutes() {
  const app = new Hono<AppEnv>();
  app.use("/*", limitBody(64 * 1024));

  app.get("/", validate("query", SuggestionsQuery), async (c) =>
    c.json(await listSuggestions(c.env, c.var.config, c.req.valid("query"))),
  );

  app.post("/confirm", validate("json", ConfirmSuggestionsBody), async (c) =>
    c.json(await confirmSuggestions(c, c.req.valid("json").matches)),
  );

  app.post("/dismiss", validate("json", DismissSuggestionsBody), async (c) =>
    c.json(await dismissSuggestions(c, c.req.valid("json").keys)),
  );

  return app;
}
