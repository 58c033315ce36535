/**
 * The console's overview (counts by status over 24 h / 7 d / 30 d, runs needing attention, sources and the
 * URLs to paste, never a secret) and its API reference (every operation of the OpenAPI document), through
 * the Worker's real entry.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { ADMIN_OPERATIONS } from "../src/admin/api-operations";
import { adminCall } from "./helpers/admin";
import { callWith } from "./helpers/env";
import { ADMIN_TOKEN, admin, uniqueId, waitForRun } from "./helpers/worker";

const ORIGIN = "https://offboard.example.com";

/** The overview's count for a status in each window (24 h, 7 d, 30 d). */
function counts(html: string, status: string): number[] {
  const row = new RegExp(`<tr data-status="${status}">([\\s\\S]*?)</tr>`).exec(html)?.[1] ?? "";
  return [...row.matchAll(/<td>(\d+)<\/td>/g)].map((m) => Number(m[1]));
}

/** Every secret the test Worker is configured with, each value of a list on its own. */
const SECRET_VARS = [
  "KOODRIVE_APP_ID",
  "KOODRIVE_APP_SECRET",
  "ADMIN_TOKEN",
  "HR_WEBHOOK_SECRETS",
  "OKTA_EVENT_HOOK_SECRETS",
  "SCIM_BEARER_TOKENS",
  "SLACK_SIGNING_SECRETS",
  "TEAMS_WEBHOOK_TOKENS",
  "SIM_ADMIN_TOKEN",
] as const;

function secretValues(): string[] {
  const vars = env as unknown as Record<string, string | undefined>;
  const out: string[] = [];
  for (const name of SECRET_VARS) {
    const value = vars[name];
    if (!value) continue;
    out.push(value);
    for (const part of value.split(/[,\s]+/)) {
      const bare = part.replace(/^(whsec_|Bearer)/, "");
      if (bare.length >= 8) out.push(bare);
    }
  }
  return out;
}

describe("console overview", () => {
  it("counts a new run in every window, lists it under needs attention, and shows the sources' URLs", async () => {
    const before = await (await admin("/console")).text();
    const { res } = await adminCall("/offboardings", {
      method: "POST",
      body: { person: `${uniqueId("ov")}@nowhere.example`.toLowerCase(), reason: "overview test" },
    });
    const { runId } = (await res.json()) as { runId: string };
    expect((await waitForRun(runId)).status).toBe("unresolved");
    const page = await admin("/console");
    expect(page.status).toBe(200);
    const html = await page.text();
    const was = counts(before, "unresolved");
    expect(was).toHaveLength(3);
    expect(counts(html, "unresolved")).toEqual(was.map((n) => n + 1));
    expect(counts(html, "total")).toEqual(counts(before, "total").map((n) => n + 1));
    const attention = /data-testid="attention"[\s\S]*?<\/table>/.exec(html)?.[0] ?? "";
    expect(attention).toContain(runId);

    for (const url of ["/webhooks/hr", "/webhooks/okta", "/scim/v2", "/chatops/slack", "/chatops/teams"])
      expect(html, url).toContain(`<code>${ORIGIN}${url}</code>`);
    const sources = /data-testid="sources"[\s\S]*?<\/table>/.exec(html)?.[0] ?? "";
    expect(sources.match(/class="badge b-ok">on</g)).toHaveLength(5);
    for (const secret of secretValues()) expect(html, "a secret value is on the page").not.toContain(secret);
  });

  it("says which sources are off or misconfigured, from the settings alone", async () => {
    const res = await callWith({ SLACK_SIGNING_SECRETS: "", TEAMS_WEBHOOK_TOKENS: "short" }, "/console", {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    const html = await res.text();
    const state = (name: string) =>
      new RegExp(`data-source="${name}"[\\s\\S]*?class="badge b-\\w+">(\\w+)<`).exec(html)?.[1];
    expect(state("Slack slash command")).toBe("off");
    expect(state("Microsoft Teams outgoing webhook")).toBe("misconfigured");
    expect(state("Okta Event Hook")).toBe("on");
    expect(html).not.toContain("short</");

    // A malformed chat operator link fails that chat source (and decisions), shown here; the rest is on.
    const linked = await callWith({ SLACK_OPERATORS: "U2CERLKJA=not-an-e-mail" }, "/console", {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    const page = await linked.text();
    const stateIn = (name: string) =>
      new RegExp(`data-source="${name}"[\\s\\S]*?class="badge b-\\w+">(\\w+)<`).exec(page)?.[1];
    expect(stateIn("Slack slash command")).toBe("misconfigured");
    expect(stateIn("Microsoft Teams outgoing webhook")).toBe("on");
  });
});

describe("console API reference", () => {
  it("lists every operation of the admin API with its role, and links the OpenAPI document", async () => {
    const res = await admin("/console/api");
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain('href="/openapi.json"');
    for (const op of ADMIN_OPERATIONS) {
      const path = op.path.replace(/:(\w+)/g, "{$1}");
      const article = new RegExp(
        `data-operation="${op.method.toUpperCase()} ${path.replace(/[{}]/g, "\\$&")}"[\\s\\S]*?</article>`,
      ).exec(html)?.[0];
      expect(article, `${op.method} ${op.path}`).toBeDefined();
      expect(article).toContain(`role <strong>${op.role}</strong>`);
      expect(article).toContain(
        op.summary.replaceAll("&", "&amp;").replaceAll("'", "&#39;").replaceAll('"', "&quot;"),
      );
    }
    const bodies = ADMIN_OPERATIONS.filter((o) => o.json).length;
    expect(html.match(/<pre class="schema">/g)?.length ?? 0).toBeGreaterThanOrEqual(bodies);
  });
});
