/** @jsxImportSource hono/jsx */
import { Hono } from "hono";
import type { AppEnv } from "../../env";
import { Layout, NAV } from "../layout";

/**
 * The overview. Phase 2 adds counts by status and runs needing attention (from the runs index) and the
 * source URLs; until then it opens a run by its id and lists the sections.
 */
export function overviewPage() {
  const app = new Hono<AppEnv>();
  app.get("/", (c) =>
    c.html(
      <Layout title="Overview" section="/console" principal={c.var.principal} requestId={c.var.requestId}>
        <form class="inline" method="get" action="/console/runs">
          <label>
            Run id
            <input name="runId" required placeholder="hr-0123456789abcdef0123456789abcdef" size={40} />
          </label>
          <button type="submit">Open run</button>
        </form>
        <h2>Sections</h2>
        <ul>
          {NAV.filter((n) => n.ready && n.href !== "/console").map((n) => (
            <li>
              <a href={n.href}>{n.label}</a>
            </li>
          ))}
        </ul>
      </Layout>,
    ),
  );
  return app;
}
