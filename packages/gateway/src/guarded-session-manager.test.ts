// The session manager against a real HTTP/2 server that goes away the way a draining control
// plane does: GOAWAY while a long stream (the authorization watch) is open, then the stream ends
// and the connection closes. connect-node kept every such session in its shutting-down list.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Http2Server, type ServerHttp2Session } from "node:http2";
import type { AddressInfo } from "node:net";
import pino from "pino";
import { GuardedSessionManager } from "./guarded-session-manager.js";

let server: Http2Server;
let url: string;
const sessions: ServerHttp2Session[] = [];
const watches: { end(): void }[] = [];

before(async () => {
  server = createServer();
  server.on("session", (session) => sessions.push(session));
  server.on("stream", (stream, headers) => {
    stream.respond({ ":status": 200 });
    if (headers[":path"] === "/watch") watches.push(stream); // held open, as the watch stream is
    else stream.end("ok");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(async () => {
  for (const s of sessions) s.destroy();
  await new Promise((resolve) => server.close(resolve));
});

async function call(manager: GuardedSessionManager, path: string) {
  const stream = await manager.request("POST", path, {}, {});
  stream.resume();
  return stream;
}

describe("GuardedSessionManager", () => {
  it("keeps no closed session after each restart of the server side", async () => {
    const manager = new GuardedSessionManager(url, pino({ level: "silent" }));
    for (let restart = 1; restart <= 3; restart++) {
      const watch = await call(manager, "/watch");
      const clientSession = watch.session!;
      const closed = new Promise((resolve) => clientSession.once("close", resolve));
      while (watches.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
      // Draining: GOAWAY while the watch is open, then the watch ends and the connection closes.
      const serverSession = sessions[sessions.length - 1]!;
      serverSession.close();
      await new Promise((resolve) => setTimeout(resolve, 20));
      watches.pop()!.end();
      await closed;
      const next = await call(manager, "/unary");
      await new Promise((resolve) => next.once("close", resolve));
      assert.equal(manager.sessionsShuttingDown, 0, `after restart ${restart}`);
    }
    manager.abort();
  });
});
