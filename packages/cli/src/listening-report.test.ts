// Pins the gateway's listening report: only a well-formed one is taken (any other IPC message is
// ignored, never mistaken for an address), and its URL must name the IP and port bound.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseListeningReport } from "./listening-report.js";

describe("parseListeningReport", () => {
  const report = (url: unknown) => ({ type: "weir-listening", url });
  const cases: { name: string; message: unknown; want: unknown }[] = [
    { name: "IPv4", message: report("http://127.0.0.1:7081"), want: report("http://127.0.0.1:7081") },
    { name: "IPv6 in brackets", message: report("http://[::1]:1"), want: report("http://[::1]:1") },
    { name: "IPv6 any address", message: report("http://[::]:65535"), want: report("http://[::]:65535") },
    { name: "port 80, which a URL leaves implicit", message: report("http://0.0.0.0:80"), want: report("http://0.0.0.0:80") },
    { name: "https (a gateway serving TLS)", message: report("https://127.0.0.1:7081"), want: report("https://127.0.0.1:7081") },
    { name: "https on port 443, which a URL leaves implicit", message: report("https://0.0.0.0:443"), want: report("https://0.0.0.0:443") },
    { name: "extra fields are dropped", message: { ...report("http://0.0.0.0:7081"), family: "IPv4" }, want: report("http://0.0.0.0:7081") },
    { name: "another message type", message: { type: "ready", url: "http://127.0.0.1:7081" }, want: undefined },
    { name: "no type", message: { url: "http://127.0.0.1:7081" }, want: undefined },
    { name: "a hostname, not an address bound", message: report("http://localhost:7081"), want: undefined },
    { name: "an unbracketed IPv6 address", message: report("http://::1:7081"), want: undefined },
    { name: "port 0 (not bound yet)", message: report("http://127.0.0.1:0"), want: undefined },
    { name: "port beyond 65535", message: report("http://127.0.0.1:65536"), want: undefined },
    { name: "not http(s)", message: report("ftp://127.0.0.1:7081"), want: undefined },
    { name: "a path", message: report("http://127.0.0.1:7081/readyz"), want: undefined },
    { name: "the URL as a number", message: report(7081), want: undefined },
    { name: "a string message", message: "weir-listening", want: undefined },
    { name: "null", message: null, want: undefined },
    { name: "an array", message: ["weir-listening", "http://127.0.0.1:7081"], want: undefined },
  ];
  for (const c of cases) {
    it(c.name, () => assert.deepEqual(parseListeningReport(c.message), c.want));
  }
});
