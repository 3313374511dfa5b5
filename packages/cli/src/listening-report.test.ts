// Pins the gateway's listening report: only a well-formed one is taken (any other IPC message is
// ignored, never mistaken for an address), and its URL brackets an IPv6 address.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { listeningUrl, parseListeningReport } from "./listening-report.js";

describe("parseListeningReport", () => {
  const cases: { name: string; message: unknown; want: unknown }[] = [
    { name: "IPv4", message: { type: "weir-listening", address: "127.0.0.1", port: 7081 }, want: { type: "weir-listening", address: "127.0.0.1", port: 7081 } },
    { name: "IPv6", message: { type: "weir-listening", address: "::1", port: 1 }, want: { type: "weir-listening", address: "::1", port: 1 } },
    { name: "extra fields are dropped", message: { type: "weir-listening", address: "0.0.0.0", port: 65535, family: "IPv4" }, want: { type: "weir-listening", address: "0.0.0.0", port: 65535 } },
    { name: "another message type", message: { type: "ready", address: "127.0.0.1", port: 7081 }, want: undefined },
    { name: "no type", message: { address: "127.0.0.1", port: 7081 }, want: undefined },
    { name: "a hostname, not an address bound", message: { type: "weir-listening", address: "localhost", port: 7081 }, want: undefined },
    { name: "a bracketed IPv6 address", message: { type: "weir-listening", address: "[::1]", port: 7081 }, want: undefined },
    { name: "port 0 (not bound yet)", message: { type: "weir-listening", address: "127.0.0.1", port: 0 }, want: undefined },
    { name: "port beyond 65535", message: { type: "weir-listening", address: "127.0.0.1", port: 65536 }, want: undefined },
    { name: "fractional port", message: { type: "weir-listening", address: "127.0.0.1", port: 7081.5 }, want: undefined },
    { name: "port as a string", message: { type: "weir-listening", address: "127.0.0.1", port: "7081" }, want: undefined },
    { name: "a string message", message: "weir-listening", want: undefined },
    { name: "null", message: null, want: undefined },
    { name: "an array", message: ["weir-listening", "127.0.0.1", 7081], want: undefined },
  ];
  for (const c of cases) {
    it(c.name, () => assert.deepEqual(parseListeningReport(c.message), c.want));
  }
});

describe("listeningUrl", () => {
  const cases: { name: string; address: string; port: number; want: string }[] = [
    { name: "IPv4 as is", address: "127.0.0.1", port: 7081, want: "http://127.0.0.1:7081" },
    { name: "IPv6 in brackets", address: "::1", port: 7081, want: "http://[::1]:7081" },
    { name: "IPv6 any address in brackets", address: "::", port: 80, want: "http://[::]:80" },
  ];
  for (const c of cases) {
    it(c.name, () => assert.equal(listeningUrl({ type: "weir-listening", address: c.address, port: c.port }), c.want));
  }
});
