// Pins credential extraction order and format (reference TestExtractAuthToken) and secret masking.

import assert from "node:assert/strict";
import type { IncomingHttpHeaders } from "node:http";
import { describe, it } from "node:test";
import { extractAuthToken, isByokRequest, maskCredential } from "./index.js";

describe("extractAuthToken", () => {
  const cases: { name: string; headers: IncomingHttpHeaders; want: string | undefined; source?: string }[] = [
    { name: "no headers", headers: {}, want: undefined },
    { name: "bearer", headers: { authorization: "Bearer key" }, want: "key", source: "authorization" },
    { name: "scheme is case-insensitive", headers: { authorization: "BEARer key" }, want: "key", source: "authorization" },
    { name: "lowercase scheme", headers: { authorization: "bearer key" }, want: "key", source: "authorization" },
    { name: "x-api-key", headers: { "x-api-key": "key" }, want: "key", source: "x_api_key" },
    {
      name: "governance token has top priority",
      headers: { "x-ai-governance-token": "gov", authorization: "Bearer bearer", "x-api-key": "apikey" },
      want: "gov",
      source: "governance_token",
    },
    { name: "bearer before x-api-key", headers: { authorization: "Bearer bearer", "x-api-key": "apikey" }, want: "bearer", source: "authorization" },
    { name: "bearer with 3 fields is rejected", headers: { authorization: "Bearer a b" }, want: undefined },
    { name: "bearer with 3 fields falls back to x-api-key", headers: { authorization: "Bearer a b", "x-api-key": "k" }, want: "k", source: "x_api_key" },
    { name: "scheme alone is rejected", headers: { authorization: "Bearer" }, want: undefined },
    { name: "non-bearer scheme is rejected", headers: { authorization: "Basic dXNlcjpwYXNz" }, want: undefined },
    { name: "whitespace-only governance token is ignored", headers: { "x-ai-governance-token": "   ", authorization: "Bearer b" }, want: "b", source: "authorization" },
    { name: "whitespace-only x-api-key is ignored", headers: { "x-api-key": " \t " }, want: undefined },
    { name: "values are trimmed", headers: { "x-api-key": "  key  " }, want: "key", source: "x_api_key" },
    { name: "governance token is trimmed", headers: { "x-ai-governance-token": " gov " }, want: "gov", source: "governance_token" },
    { name: "bearer with surrounding whitespace", headers: { authorization: "  Bearer   key  " }, want: "key", source: "authorization" },
    { name: "session token is not a credential", headers: { "weir-session-token": "session" }, want: undefined },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const got = extractAuthToken(c.headers);
      assert.equal(got?.token, c.want);
      if (c.source !== undefined) assert.equal(got?.source, c.source);
    });
  }
});

describe("isByokRequest", () => {
  const cases = [
    { name: "absent", headers: {}, want: false },
    { name: "blank", headers: { "x-ai-governance-token": "  " }, want: false },
    { name: "set", headers: { "x-ai-governance-token": "k" }, want: true },
  ];
  for (const c of cases) it(c.name, () => assert.equal(isByokRequest(c.headers), c.want));
});

describe("maskCredential", () => {
  const cases = [
    { name: "undefined", secret: undefined, want: "" },
    { name: "empty", secret: "", want: "" },
    { name: "long secret shows 4 and 4", secret: "sk-abcdefghijklmnopxyz9", want: "sk-a...xyz9" },
    { name: "medium secret shows 2 and 2", secret: "abcdefghij", want: "ab...ij" },
    { name: "short secret shows nothing", secret: "abc", want: "..." },
  ];
  for (const c of cases) it(c.name, () => assert.equal(maskCredential(c.secret), c.want));
});
