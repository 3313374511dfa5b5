// reloadOnSignal alone, with SIGHUP emitted in this process: every kind of file is reloaded on
// its own (a failure is logged with its own message and does not stop the next kind), reloads
// wait for start-up and never overlap, and a daemon whose start-up failed reloads nothing.
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { afterEach, describe, it } from "node:test";
import { pino } from "pino";
import { Registry } from "prom-client";
import { reloadMetrics } from "./reload-metrics.js";
import { reloadOnSignal, type FileReload } from "./reload-signal.js";

function capture() {
  const lines: any[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(JSON.parse(chunk.toString("utf8")));
      done();
    },
  });
  return { logger: pino({ level: "info" }, stream), lines };
}

const settle = () => new Promise((r) => setTimeout(r, 20));

afterEach(() => {
  process.removeAllListeners("SIGHUP");
});

describe("reloadOnSignal", () => {
  it("runs every reload on SIGHUP; one that fails is logged with its own message and the next still runs", async () => {
    const { logger, lines } = capture();
    const ran: string[] = [];
    const reloads: FileReload[] = [
      { kind: "tls", files: "the TLS certificate and key files", run: async () => { ran.push("tls"); throw new Error("--tls-key-file k.pem: not a PEM private key"); }, keptMessage: "TLS kept" },
      // Throws before it returns a promise (a file read synchronously): caught all the same.
      { kind: "gateway_key", files: "the gateway key file", run: () => { ran.push("gateway key"); throw new Error("the gateway key file k is empty"); }, keptMessage: "gateway key kept" },
      { kind: "provider_keys", files: "the provider key files", run: async () => void ran.push("keys"), keptMessage: "keys kept" },
    ];
    reloadOnSignal(reloads, logger, Promise.resolve());
    process.emit("SIGHUP", "SIGHUP");
    await settle();
    assert.deepEqual(ran, ["tls", "gateway key", "keys"]);
    assert.deepEqual(lines.map((l) => [l.level, l.msg, l.err]), [
      [30, "reloading the TLS certificate and key files, the gateway key file and the provider key files", undefined],
      [50, "TLS kept", "--tls-key-file k.pem: not a PEM private key"],
      [50, "gateway key kept", "the gateway key file k is empty"],
    ]);
  });

  it("waits for start-up, runs reloads one after the other, and none after a failed start-up", async () => {
    const { logger } = capture();
    let finishStart!: () => void;
    const started = new Promise<void>((r) => (finishStart = r));
    let running = 0;
    let most = 0;
    let runs = 0;
    const slow: FileReload = {
      kind: "tls",
      files: "files",
      run: async () => {
        runs++;
        most = Math.max(most, ++running);
        await settle();
        running--;
      },
      keptMessage: "kept",
    };
    reloadOnSignal([slow], logger, started);
    process.emit("SIGHUP", "SIGHUP");
    process.emit("SIGHUP", "SIGHUP");
    await settle();
    assert.equal(runs, 0, "nothing before start-up ends");
    finishStart();
    await settle();
    await settle();
    await settle();
    assert.deepEqual([runs, most], [2, 1]);

    process.removeAllListeners("SIGHUP");
    const failed = Promise.reject(new Error("start-up failed"));
    failed.catch(() => undefined);
    reloadOnSignal([slow], logger, failed);
    process.emit("SIGHUP", "SIGHUP");
    await settle();
    assert.equal(runs, 2);
  });

  it("publishes each kind's outcome: loaded at start-up, then 0 while its last reload failed, and when it last loaded", async () => {
    const { logger } = capture();
    const registry = new Registry();
    let clock = 1_000_000;
    const outcomes = reloadMetrics(registry, "weir_test_", () => clock);
    let tlsFails = false;
    const reloads: FileReload[] = [
      { kind: "tls", files: "tls", run: async () => { if (tlsFails) throw new Error("broken"); }, keptMessage: "TLS kept" },
      { kind: "gateway_key", files: "key", run: async () => undefined, keptMessage: "key kept" },
    ];
    let finishStart!: () => void;
    reloadOnSignal(reloads, logger, new Promise<void>((r) => (finishStart = r)), outcomes);
    const series = async () => {
      const values = (name: string) => (registry.getSingleMetric(name)?.get() as Promise<{ values: { labels: { files?: string }; value: number }[] }>).then((m) => Object.fromEntries(m.values.map((v) => [v.labels.files, v.value])));
      return { successful: await values("weir_test_reload_successful"), since: await values("weir_test_reload_last_success_timestamp_seconds") };
    };
    assert.deepEqual(await series(), { successful: {}, since: {} }, "nothing before start-up");
    finishStart();
    await settle();
    assert.deepEqual(await series(), { successful: { tls: 1, gateway_key: 1 }, since: { tls: 1000, gateway_key: 1000 } });

    clock = 2_000_000;
    tlsFails = true;
    process.emit("SIGHUP", "SIGHUP");
    await settle();
    assert.deepEqual(await series(), { successful: { tls: 0, gateway_key: 1 }, since: { tls: 1000, gateway_key: 2000 } });

    clock = 3_000_000;
    tlsFails = false;
    process.emit("SIGHUP", "SIGHUP");
    await settle();
    assert.deepEqual(await series(), { successful: { tls: 1, gateway_key: 1 }, since: { tls: 3000, gateway_key: 3000 } });
  });
});
