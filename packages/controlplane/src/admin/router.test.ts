// The router: literal and `{param}` segments, decoded params, 405 with the allowed methods, 404.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createRouter } from "./router.js";

const router = createRouter([
  { method: "GET", pattern: "/api/v2/users", handler: "list" },
  { method: "POST", pattern: "/api/v2/users", handler: "create" },
  { method: "GET", pattern: "/api/v2/users/{id}", handler: "get" },
  { method: "DELETE", pattern: "/api/v2/users/{id}/keys/{keyId}", handler: "delete-key" },
]);

describe("router", () => {
  const cases = [
    { method: "GET", path: "/api/v2/users", want: { kind: "found", handler: "list", params: {} } },
    { method: "POST", path: "/api/v2/users", want: { kind: "found", handler: "create", params: {} } },
    { method: "GET", path: "/api/v2/users/abc", want: { kind: "found", handler: "get", params: { id: "abc" } } },
    { method: "GET", path: "/api/v2/users/a%2Fb", want: { kind: "found", handler: "get", params: { id: "a/b" } } },
    { method: "DELETE", path: "/api/v2/users/u/keys/k", want: { kind: "found", handler: "delete-key", params: { id: "u", keyId: "k" } } },
    { method: "DELETE", path: "/api/v2/users", want: { kind: "method_not_allowed", pattern: "/api/v2/users", allow: ["GET", "POST"] } },
    { method: "GET", path: "/api/v2/users/u/keys/k", want: { kind: "method_not_allowed", pattern: "/api/v2/users/{id}/keys/{keyId}", allow: ["DELETE"] } },
    { method: "GET", path: "/api/v2/users/", want: { kind: "not_found" } },
    { method: "GET", path: "/api/v2/users/%E0%A4%A", want: { kind: "not_found" } },
    { method: "GET", path: "/api/v2/nope", want: { kind: "not_found" } },
    { method: "GET", path: "api/v2/users", want: { kind: "not_found" } },
  ];
  for (const c of cases) {
    it(`${c.method} ${c.path} → ${c.want.kind}`, () => {
      const m = router.match(c.method, c.path);
      const got = m.kind === "found" ? { kind: m.kind, handler: m.route.handler, params: m.params } : m;
      assert.deepEqual(got, c.want);
    });
  }
  it("refuses duplicate routes", () => {
    assert.throws(() =>
      createRouter([
        { method: "GET", pattern: "/a", handler: 1 },
        { method: "GET", pattern: "/a", handler: 2 },
      ]),
    );
  });
});
