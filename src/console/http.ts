import type { Context, MiddlewareHandler } from "hono";
import { csrf } from "hono/csrf";
import { HTTPException } from "hono/http-exception";
import type * as z from "zod";
import type { AppEnv } from "../env";
import { ApiError, type FieldError, fieldErrors } from "../errors";

/** Form bodies the console accepts: what an HTML form sends (and what `hono/csrf` checks). */
const FORM_TYPES = /^(application\/x-www-form-urlencoded|multipart\/form-data)\b/i;

/**
 * Cross-site request forgery protection for every console write (`hono/csrf`: the `Origin`, or the
 * browser's `Sec-Fetch-Site`, must be this origin), answered as our 403 page rather than a bare text.
 * Only form bodies are accepted, so no write can slip past the check with a content type it ignores.
 * @see https://hono.dev/docs/middleware/builtin/csrf
 */
export function formGuard(): MiddlewareHandler<AppEnv> {
  const check = csrf();
  return async (c, next) => {
    if (c.req.method === "GET" || c.req.method === "HEAD") return next();
    if (!FORM_TYPES.test(c.req.header("content-type") ?? ""))
      throw new ApiError("unsupported_media_type", "the console accepts form submissions only");
    try {
      await check(c, async () => {});
    } catch (err) {
      if (err instanceof HTTPException && err.status === 403)
        throw new ApiError(
          "forbidden",
          "this form was not sent from the console's own pages (cross-site request refused)",
        );
      throw err;
    }
    await next();
  };
}

/** A submitted form as Hono parses it (`all`: repeated fields as arrays), or a 400 page if it is not one. */
export async function readForm(c: Context<AppEnv>, all = false) {
  try {
    return await c.req.parseBody({ all });
  } catch {
    throw new ApiError("bad_request", "the form could not be read (send it from the console's page)");
  }
}

/** The string fields of a submitted form (files left out). */
export async function formFields(c: Context<AppEnv>): Promise<Record<string, string>> {
  const body = await readForm(c);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(body)) if (typeof v === "string") out[k] = v;
  return out;
}

/** Parses form fields or query parameters with zod: the value, or the field errors to show on the page. */
export function parseFields<T extends z.ZodType>(
  schema: T,
  input: unknown,
): { ok: true; value: z.infer<T> } | { ok: false; errors: FieldError[] } {
  const parsed = schema.safeParse(input);
  return parsed.success
    ? { ok: true, value: parsed.data }
    : { ok: false, errors: fieldErrors(parsed.error.issues) };
}

/** Reads the query with zod, or a 400 page naming the fields. */
export function queryOf<T extends z.ZodType>(c: Context<AppEnv>, schema: T): z.infer<T> {
  const parsed = parseFields(schema, c.req.query());
  if (!parsed.ok) throw new ApiError("bad_request", "invalid query parameters", parsed.errors);
  return parsed.value;
}
