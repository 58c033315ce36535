/** @jsxImportSource hono/jsx */
import { Hono } from "hono";
import pkg from "../../../package.json";
import { ADMIN_OPERATIONS } from "../../admin/api-operations";
import { openApiDocument } from "../../admin/openapi";
import type { AppEnv } from "../../env";
import { Layout } from "../layout";

interface Parameter {
  name: string;
  in: string;
  required: boolean;
  description?: string;
  schema: unknown;
}

interface OperationObject {
  operationId: string;
  summary: string;
  description: string;
  tags: string[];
  "x-role": string;
  parameters?: Parameter[];
  requestBody?: { description?: string; content: Record<string, { schema: unknown }> };
  responses: Record<string, { description: string }>;
}

/** A JSON Schema on one line (what a reader scans; the full document is /openapi.json). */
const compact = (schema: unknown) => JSON.stringify(schema);

/**
 * The API reference: the OpenAPI document (`GET /openapi.json`, the same object) rendered for people,
 * grouped by tag, so the console links a readable reference (issue 9 section 4).
 */
export function apiReferencePage() {
  const app = new Hono<AppEnv>();
  app.get("/", (c) => {
    const doc = openApiDocument(ADMIN_OPERATIONS, pkg.version);
    const ops = Object.entries(doc.paths).flatMap(([path, methods]) =>
      Object.entries(methods).map(([method, op]) => ({ path, method, op: op as OperationObject })),
    );
    return c.html(
      <Layout
        title="API reference"
        section="/console/api"
        principal={c.var.principal}
        requestId={c.var.requestId}
      >
        <p>
          {doc.info.title} {doc.info.version}. {doc.info.description}
        </p>
        <p>
          Machine-readable: <a href="/openapi.json">/openapi.json</a> (OpenAPI {doc.openapi}).
        </p>
        <nav aria-label="API sections">
          <ul>
            {doc.tags.map((t) => (
              <li>
                <a href={`#tag-${t.name.toLowerCase()}`}>{t.name}</a>
              </li>
            ))}
          </ul>
        </nav>
        {doc.tags.map((t) => (
          <section id={`tag-${t.name.toLowerCase()}`}>
            <h2>{t.name}</h2>
            {ops
              .filter((o) => o.op.tags.includes(t.name))
              .map(({ path, method, op }) => (
                <article class="op" id={op.operationId} data-operation={`${method.toUpperCase()} ${path}`}>
                  <h3>
                    <code>
                      {method.toUpperCase()} {path}
                    </code>
                  </h3>
                  <p>
                    <strong>{op.summary}</strong> · role <strong>{op["x-role"]}</strong> or above
                  </p>
                  <p class="pre-line">{op.description}</p>
                  {op.parameters?.length ? (
                    <div class="scroll">
                      <table>
                        <caption class="muted">Parameters</caption>
                        <thead>
                          <tr>
                            <th scope="col">Name</th>
                            <th scope="col">In</th>
                            <th scope="col">Required</th>
                            <th scope="col">Schema</th>
                            <th scope="col">Description</th>
                          </tr>
                        </thead>
                        <tbody>
                          {op.parameters.map((p) => (
                            <tr>
                              <td>
                                <code>{p.name}</code>
                              </td>
                              <td>{p.in}</td>
                              <td>{p.required ? "yes" : "no"}</td>
                              <td>
                                <code>{compact(p.schema)}</code>
                              </td>
                              <td>{p.description ?? ""}</td>
                            </tr>
                          ))}
                        </tbody>
                      </table>
                    </div>
                  ) : null}
                  {op.requestBody
                    ? Object.entries(op.requestBody.content).map(([type, body]) => (
                        <>
                          <h4>
                            Request body <code>{type}</code>
                          </h4>
                          {op.requestBody?.description ? <p>{op.requestBody.description}</p> : null}
                          <pre class="schema">{compact(body.schema)}</pre>
                        </>
                      ))
                    : null}
                  <h4>Responses</h4>
                  <dl class="facts">
                    {Object.entries(op.responses).map(([status, r]) => (
                      <>
                        <dt>
                          <code>{status}</code>
                        </dt>
                        <dd>{r.description}</dd>
                      </>
                    ))}
                  </dl>
                </article>
              ))}
          </section>
        ))}
      </Layout>,
    );
  });
  return app;
}
