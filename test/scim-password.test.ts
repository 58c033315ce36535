import { describe, expect, it } from "vitest";
import { admin, call, uniqueId } from "./helpers/worker";

const TOKEN = "scim-test-token-0123456789abcdef";
const CORE = "urn:ietf:params:scim:schemas:core:2.0:User";

function scim(path: string, method = "GET", body?: unknown) {
  return call(`/scim/v2${path}`, {
    method,
    headers: { "content-type": "application/scim+json", authorization: `Bearer ${TOKEN}` },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

describe("SCIM never keeps a password, however it is named", () => {
  it("a password under its fully qualified name (RFC 7644 3.10) is not stored, answered or audited", async () => {
    const secret = `pw-${uniqueId()}`;
    const res = await scim("/Users", "POST", {
      schemas: [CORE],
      userName: `${uniqueId("q")}@example.com`,
      [`${CORE}:password`]: secret,
    });
    const created = await res.text();
    expect(res.status).toBe(201);
    const { id } = JSON.parse(created) as { id: string };
    const got = await (await scim(`/Users/${id}`)).text();
    const audit = await (await admin("/audit?limit=20")).text();
    expect(created).not.toContain(secret);
    expect(got).not.toContain(secret);
    expect(audit).not.toContain(secret);
  });
});
