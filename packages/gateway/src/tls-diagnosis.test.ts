// Pins when a failed call hints at https://: a dropped connection to an http:// URL, in each form
// it takes (HTTP/2's canceled stream included), and nothing else.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { connectionHint } from "./tls-diagnosis.js";

const HINT = "if the control plane serves TLS, its URL needs https://";
const withCode = (message: string, code: string) => Object.assign(new Error(message), { code });

describe("connectionHint", () => {
  const cases = [
    { name: "a reset connection", err: new ConnectError("read ECONNRESET", Code.Aborted, undefined, undefined, withCode("read ECONNRESET", "ECONNRESET")) },
    // What connect-node makes of a stream Node canceled because the connection closed.
    { name: "a stream canceled by the closed connection", err: new ConnectError("http/2 stream closed with error code CANCEL (0x8)", Code.Canceled) },
    { name: "fetch's closed socket", err: new TypeError("fetch failed", { cause: withCode("other side closed", "UND_ERR_SOCKET") }) },
  ];
  for (const c of cases) {
    it(`hints at https:// for ${c.name} to an http:// URL`, () => {
      assert.equal(connectionHint(c.err, "http://cp.internal:7080"), HINT);
    });
    it(`gives no hint for ${c.name} to an https:// URL`, () => {
      assert.equal(connectionHint(c.err, "https://cp.internal:7080"), undefined);
    });
  }

  it("gives no hint for a call its caller canceled, or a refused connection", () => {
    assert.equal(connectionHint(new ConnectError("This operation was aborted", Code.Canceled), "http://cp.internal:7080"), undefined);
    const refused = new ConnectError("connect ECONNREFUSED", Code.Unavailable, undefined, undefined, withCode("connect ECONNREFUSED", "ECONNREFUSED"));
    assert.equal(connectionHint(refused, "http://cp.internal:7080"), undefined);
  });
});
