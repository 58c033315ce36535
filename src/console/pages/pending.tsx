/** @jsxImportSource hono/jsx */
import type { Context } from "hono";
import type { AppEnv } from "../../env";
import { Layout, NAV } from "../layout";

/** What each phase-2 page will need, said plainly until it is there. */
const WAITING_FOR: Record<string, string> = {
  "/console/runs": "the runs index (GET /runs). Open a run from the overview by its id meanwhile.",
  "/console/offboard": "POST /offboardings. Use the HR webhook or a chat command meanwhile.",
  "/console/tokens": "the API token store.",
  "/console/api": "the OpenAPI document.",
};

/** A page of the navigation that is not built yet (NAV `ready: false`). */
export function pendingPage(c: Context<AppEnv>, href: string) {
  const item = NAV.find((n) => n.href === href);
  return c.html(
    <Layout
      title={item?.label ?? "Not here yet"}
      section={href}
      principal={c.var.principal}
      requestId={c.var.requestId}
    >
      <p>This page is not in this version yet: it needs {WAITING_FOR[href] ?? "a later change."}</p>
    </Layout>,
  );
}
