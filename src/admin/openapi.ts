/**
 * The admin API's OpenAPI 3.1 document (issue 9, "OpenAPI"), generated from the zod schemas the routes
 * validate with: each route module exports its `Operation`s, whose `query` / `params` / `json` schemas are
 * the very objects its `validate(...)` calls use, so the document cannot describe a request the API would
 * refuse. `test/openapi.test.ts` checks that every admin route of the app is documented and every documented
 * operation is a route. JSON Schema comes from zod 4's own `z.toJSONSchema` (draft 2020-12, the dialect of
 * OpenAPI 3.1).
 */
import * as z from "zod";
import type { Role } from "../roles";

export type Method = "get" | "post" | "put" | "delete";

export interface Operation {
  method: Method;
  /** Hono-style path (`/runs/:runId`); written as `/runs/{runId}` in the document. */
  path: string;
  summary: string;
  description?: string;
  /** The least role allowed (docs/security.md, "Who can do what"). */
  role: Role;
  tag: string;
  params?: z.ZodObject;
  query?: z.ZodType;
  /** A JSON request body. */
  json?: z.ZodType;
  /** A non-JSON request body (e.g. `text/csv`), described in words. */
  body?: { contentType: string; description: string };
  /** Request headers that change the answer (`If-Match`, `Idempotency-Key`). */
  headers?: Record<string, { description: string; required?: boolean }>;
  /** Success and notable error statuses, with what they mean; 401/403 are added from `role`. */
  responses: Record<number, string | { description: string; contentType: string }>;
}

const jsonSchema = (schema: z.ZodType, io: "input" | "output") => {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: "any" }) as Record<
    string,
    unknown
  >;
  return rest;
};

const openApiPath = (path: string) => path.replace(/:(\w+)/g, "{$1}");

/** Query or path parameters: one entry per property of the object schema. */
function parameters(where: "query" | "path", schema: z.ZodType | undefined) {
  if (!schema) return [];
  const object = jsonSchema(schema, "input") as {
    properties?: Record<string, Record<string, unknown>>;
    required?: string[];
  };
  const required = new Set(object.required ?? []);
  return Object.entries(object.properties ?? {}).map(([name, property]) => {
    const { description, ...rest } = property;
    return {
      name,
      in: where,
      required: where === "path" || (required.has(name) && !("default" in property)),
      ...(typeof description === "string" ? { description } : {}),
      schema: rest,
    };
  });
}

const ERROR_RESPONSE = { $ref: "#/components/responses/Error" };

function responses(op: Operation) {
  const out: Record<string, unknown> = {};
  for (const [status, answer] of Object.entries(op.responses)) {
    const { description, contentType } =
      typeof answer === "string" ? { description: answer, contentType: "application/json" } : answer;
    out[status] =
      Number(status) >= 400
        ? { ...ERROR_RESPONSE, description }
        : { description, content: { [contentType]: { schema: {} } } };
  }
  out["401"] ??= { ...ERROR_RESPONSE, description: "No valid credential (`unauthorized`)." };
  out["403"] ??= {
    ...ERROR_RESPONSE,
    description: `A verified identity whose role is below \`${op.role}\` (\`forbidden\`).`,
  };
  out["503"] ??= {
    ...ERROR_RESPONSE,
    description: "The deployment is misconfigured, or Cloudflare Access keys cannot be fetched.",
  };
  return out;
}

function operationObject(op: Operation) {
  const headerParams = Object.entries(op.headers ?? {}).map(([name, h]) => ({
    name,
    in: "header",
    required: h.required ?? false,
    description: h.description,
    schema: { type: "string" },
  }));
  const params = [...parameters("path", op.params), ...parameters("query", op.query), ...headerParams];
  const requestBody = op.json
    ? { required: true, content: { "application/json": { schema: jsonSchema(op.json, "input") } } }
    : op.body
      ? {
          required: true,
          description: op.body.description,
          content: { [op.body.contentType]: { schema: { type: "string" } } },
        }
      : undefined;
  return {
    operationId: `${op.method}${openApiPath(op.path).replace(/[^A-Za-z0-9]+(.)?/g, (_m, ch: string | undefined) => (ch ?? "").toUpperCase())}`,
    summary: op.summary,
    description: `${op.description ? `${op.description}\n\n` : ""}Role: \`${op.role}\` or above.`,
    tags: [op.tag],
    "x-role": op.role,
    ...(params.length ? { parameters: params } : {}),
    ...(requestBody ? { requestBody } : {}),
    responses: responses(op),
  };
}

/** The OpenAPI 3.1 document for `operations`. */
export function openApiDocument(operations: readonly Operation[], version: string) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of operations) {
    const path = openApiPath(op.path);
    paths[path] ??= {};
    (paths[path] as Record<string, unknown>)[op.method] = operationObject(op);
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "KooDrive Offboard admin API",
      version,
      description:
        "Runs, evidence exports, audit, holds, identities and API tokens. Every call needs a verified identity " +
        "(Cloudflare Access, an API token, or the break-glass admin token); the role each operation needs is " +
        "named on it. Errors share one envelope: `{error: {code, message, requestId, details?}}`.",
    },
    security: [{ bearer: [] }, { accessJwt: [] }, { accessCookie: [] }],
    tags: [...new Set(operations.map((o) => o.tag))].map((name) => ({ name })),
    paths,
    components: {
      securitySchemes: {
        bearer: {
          type: "http",
          scheme: "bearer",
          description: "An API token (`kdo_...`, POST /tokens) or the break-glass ADMIN_TOKEN.",
        },
        accessJwt: { type: "apiKey", in: "header", name: "Cf-Access-Jwt-Assertion" },
        accessCookie: { type: "apiKey", in: "cookie", name: "CF_Authorization" },
      },
      schemas: {
        ErrorEnvelope: {
          type: "object",
          required: ["error"],
          properties: {
            error: {
              type: "object",
              required: ["code", "message", "requestId"],
              properties: {
                code: { type: "string" },
                message: { type: "string" },
                requestId: { type: "string" },
                details: {
                  type: "array",
                  items: {
                    type: "object",
                    properties: { path: { type: "string" }, message: { type: "string" } },
                  },
                },
              },
            },
          },
        },
      },
      responses: {
        Error: {
          description: "An error in the common envelope.",
          content: { "application/json": { schema: { $ref: "#/components/schemas/ErrorEnvelope" } } },
        },
      },
    },
  };
}
