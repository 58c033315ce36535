import { describe, expect, it } from "vitest";
import { authorizationHeader, sign, sha256Hex } from "../src/koodrive/signer";

describe("signer", () => {
  it("matches the GET known answer", async () => {
    const s = await sign(
      {
        method: "GET",
        url: "https://intl.myhuaweicloud-koodrive.com/koodrive/ose/v1/share?pageSize=100&pageCursor=0",
        headers: { "x-date": "20261122T101500Z", "x-user-id": "1505084218764547200" },
      },
      "example-app-secret-do-not-use",
    );
    expect(s.stringToSign).toBe("HMAC-SHA256\nd2534900d032a07c8638da8eb142fc3e294381d1a1172e7bad592eaf20ee6a17");
    expect(s.signature).toBe("031fef8ade2a3751f2474ac547874ed249f500a128ce3d96540b8b6ba996b78d");
  });
});
