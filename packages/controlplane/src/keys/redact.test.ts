// redactKeys: full user API keys and gateway keys keep only their id or prefix, wherever they
// appear in the text; everything else (UUIDs, key ids, route words) passes through untouched.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { generateApiKey } from "./api-key.js";
import { generateGatewayKey } from "./gateway-key.js";
import { redactKeys } from "./redact.js";

describe("redactKeys", () => {
  const api = generateApiKey();
  const gateway = generateGatewayKey();
  const user = randomUUID();
  const cases = [
    { name: "a full API key as a path segment", text: `/api/v2/users/${user}/keys/${api.key}`, want: `/api/v2/users/${user}/keys/${api.id}-***` },
    { name: "a gateway key as a path segment", text: `/api/v2/ai-gateway/keys/${gateway.key}`, want: `/api/v2/ai-gateway/keys/${gateway.prefix}***` },
    { name: "a key glued to other text", text: `/x/%20${api.key}abc`, want: `/x/%20${api.id}-***abc` },
    { name: "a percent-encoded separator", text: `/x/${api.id}%2D${api.secret}`, want: `/x/${api.id}-***` },
    { name: "two keys", text: `${api.key} ${gateway.key}`, want: `${api.id}-*** ${gateway.prefix}***` },
  ];
  for (const c of cases) {
    it(`masks ${c.name}`, () => {
      const masked = redactKeys(c.text);
      assert.equal(masked, c.want);
      assert.ok(!masked.includes(api.secret) && !masked.includes(gateway.key.slice(11)));
    });
  }
  const untouched = [
    `/api/v2/users/${user}/keys/${api.id}`,
    `/api/v2/users/${user}/mcp-tokens/github`,
    `/api/v2/ai-gateway/keys/${randomUUID()}`,
    "/api/v2/ai-gateway/interceptions",
    `/api/v2/x/${"a".repeat(30)}`, // a long run alone is no key
    `/api/v2/x/abcdefghi-${"a".repeat(22)}`, // 9-character "id"
    "",
  ];
  for (const text of untouched) {
    it(`leaves ${JSON.stringify(text.slice(0, 48))} alone`, () => assert.equal(redactKeys(text), text));
  }
});
