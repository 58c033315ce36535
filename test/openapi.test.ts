/**
 * The OpenAPI document describes exactly the admin API: every admin route of the app is in it and every
 * operation in it is a route, with the role the route really enforces; request schemas are the routes' own.
 */
import { describe, expect, it } from "vitest";
import { ADMIN_OPERATIONS } from "../src/admin/api-operations";
import { buildApp } from "../src/app";
import { expectError } from "./helpers/admin";
import { callWith } from "./helpers/env";
import { admin } from "./helpers/worker";

/** Paths that are not the admin API (sources, health, the console) or middleware-only entries. */
const NOT_ADMIN = /^\/(webhooks|scim|chatops|console|healthz|openapi\.json)(\/|$)/;

interface Doc {
  openapi: string;
  paths: Record<string, Record<string, { "x-role": string; requestBody?: unknown; parameters?: unknown[] }>>;
}

async function document(): Promise<Doc> {
  const res = await admin("/openapi.json");
  expect(res.status).toBe(200);
  return (await res.json()) as Doc;
}

describe("GET /openapi.json", () => {
  it("is OpenAPI 3.1 and lists every admin route of the app, and only those", async () => {
    const doc = await document();
    expect(doc.openapi).toBe("3.1.0");
    const routes = new Set(
      buildApp()
        .routes.filter((r) => r.method !== "ALL" && !NOT_ADMIN.test(r.path))
        .map((r) => `${r.method.toLowerCase()} ${r.path.replace(/:(\w+)/g, "{$1}")}`),
    );
    const documented = new Set(
      Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m} ${path}`)),
    );
    expect([...routes].sort()).toEqual([...documented].sort());
  });

  it("names the role each route enforces: a viewer token is refused exactly the non-viewer operations", async () => {
    const created = await admin("/tokens", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: `openapi-viewer-${crypto.randomUUID().slice(0, 8)}`, role: "viewer" }),
    });
    expect(created.status).toBe(201);
    const { token } = (await created.json()) as { token: string };
    for (const op of ADMIN_OPERATIONS) {
      const path = op.path.replace(":runId", "run_00000000000000000000000000").replace(/:(\w+)/g, "x");
      const res = await callWith({}, path, {
        method: op.method.toUpperCase(),
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        ...(op.method === "get" ? {} : { body: "{}" }),
      });
      if (op.role === "viewer") expect(res.status, `${op.method} ${op.path}`).not.toBe(403);
      else await expectError(res, 403, "forbidden");
    }
  });

  it("carries the routes' own request schemas (a documented constraint is one the API enforces)", async () => {
    const doc = await document();
    const body = doc.paths["/offboardings"]?.post?.requestBody as {
      content: {
        "application/json": { schema: { required: string[]; properties: Record<string, unknown> } };
      };
    };
    const schema = body.content["application/json"].schema;
    expect(schema.required).toEqual(expect.arrayContaining(["person", "reason"]));
    expect(Object.keys(schema.properties)).toEqual(
      expect.arrayContaining([
        "person",
        "dryRun",
        "scopes",
        "reason",
        "effectiveAt",
        "actions",
        "handoverTo",
      ]),
    );
    // The actions are the known names (the policy's limit is the 422 of the route, not the schema's).
    expect(schema.properties.actions).toMatchObject({
      type: "array",
      minItems: 1,
      items: { enum: ["revoke_shares", "handover", "block_login", "watch"] },
    });
    // And the API refuses what the schema marks as required.
    const res = await admin("/offboardings", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ person: "dana.leaver@example.com" }),
    });
    await expectError(res, 422, "invalid_body");
  });

  it("needs a verified identity like the rest of the admin API", async () => {
    await expectError(await callWith({}, "/openapi.json"), 401, "unauthorized");
  });
});
