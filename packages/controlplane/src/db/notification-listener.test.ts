// NotificationListener when the path to PostgreSQL goes silent (a hung server, a partition that
// drops packets): no error, no end, yet notifications no longer arrive. The heartbeat must call
// the connection lost, so its owner stops trusting it, and the listener must reconnect once the
// path is back and hear notifications again.
import assert from "node:assert/strict";
import { connect, createServer, type Server, type Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import { sql } from "kysely";
import pino from "pino";
import { createTestDatabase, type TestDatabase } from "../testing/index.js";
import { NotificationListener } from "./notification-listener.js";

let t: TestDatabase;
before(async () => {
  t = await createTestDatabase();
});
after(async () => {
  await t?.drop();
});

/** A TCP relay to PostgreSQL that can stop passing bytes without closing anything. */
async function silenceableRelay(target: URL): Promise<{ url: string; silence(on: boolean): void; close(): Promise<void> }> {
  let silent = false;
  const sockets: Socket[] = [];
  const server: Server = createServer((client) => {
    const upstream = connect(Number(target.port || 5432), target.hostname);
    sockets.push(client, upstream);
    client.on("data", (d) => void (silent || upstream.write(d)));
    upstream.on("data", (d) => void (silent || client.write(d)));
    client.on("error", () => upstream.destroy());
    upstream.on("error", () => client.destroy());
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const url = new URL(target.toString());
  url.hostname = "127.0.0.1";
  url.port = String((server.address() as { port: number }).port);
  return {
    url: url.toString(),
    silence: (on) => void (silent = on),
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

async function until(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("NotificationListener heartbeat", () => {
  it("calls a silent connection lost, and listens again once the path is back", async () => {
    const relay = await silenceableRelay(new URL(t.url));
    const payloads: string[] = [];
    const events: string[] = [];
    const listener = new NotificationListener({
      url: relay.url,
      channel: "weir_heartbeat_test",
      logger: pino({ level: "silent" }),
      onNotification: (p) => payloads.push(p),
      onConnected: (reconnected) => events.push(reconnected ? "reconnected" : "connected"),
      onDisconnected: () => events.push("lost"),
      heartbeatIntervalMs: 100,
      heartbeatTimeoutMs: 200,
      initialBackoffMs: 50,
      maxBackoffMs: 100,
    });
    try {
      await listener.start();
      await until("the LISTEN", () => listener.connected);
      await sql`SELECT pg_notify('weir_heartbeat_test', 'one')`.execute(t.db);
      await until("the first notification", () => payloads.length === 1);

      relay.silence(true);
      // Without a heartbeat nothing would ever report this connection lost.
      await until("the silent connection to count as lost", () => events.includes("lost"));
      assert.equal(listener.connected, false);

      relay.silence(false);
      await until("the reconnect", () => events.includes("reconnected") && listener.connected);
      await sql`SELECT pg_notify('weir_heartbeat_test', 'two')`.execute(t.db);
      await until("a notification after the reconnect", () => payloads.includes("two"));
      assert.deepEqual(events.slice(0, 2), ["connected", "lost"]);
    } finally {
      await listener.close();
      await relay.close();
    }
  });
});
