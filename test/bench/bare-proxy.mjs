// The benchmark's floor: a Node.js proxy that does nothing but forward. No auth, no recording,
// no JSON parsing, no logging — what any Node.js proxy pays on the same machine, so the report
// can show how much of the gateway's gap to direct is Node.js itself.
//
// Plain JavaScript on purpose: it runs as is (no build, no tsx loader in the measured process).
// Usage: node bare-proxy.mjs <upstream origin>; prints "bare-proxy listening on <url>".
import { createServer } from "node:http";
import { Pool } from "undici";

const upstream = process.argv[2];
if (!upstream) {
  process.stderr.write("usage: node bare-proxy.mjs <upstream origin>\n");
  process.exit(2);
}

// Like the gateway's upstream Agent: keep-alive, no connection cap.
const pool = new Pool(upstream, { keepAliveTimeout: 30_000, keepAliveMaxTimeout: 10 * 60_000 });

// Hop-by-hop headers (and what undici computes itself) are not forwarded.
const SKIP = new Set(["host", "connection", "keep-alive", "transfer-encoding", "content-length", "upgrade", "proxy-connection", "te"]);

function forwardHeaders(raw) {
  const out = {};
  for (const [k, v] of Object.entries(raw)) if (v !== undefined && !SKIP.has(k)) out[k] = v;
  return out;
}

/** Buffers a JSON answer (one write with content-length); passes SSE through chunk by chunk. */
function handler(res) {
  let streaming = false;
  let chunks = [];
  return {
    onRequestStart(controller) {
      // The client went away: stop the upstream exchange too.
      res.once("close", () => {
        if (!res.writableFinished) controller.abort(new Error("client closed"));
      });
    },
    onResponseStart(controller, statusCode, headers) {
      const type = headers["content-type"];
      streaming = typeof type === "string" && type.startsWith("text/event-stream");
      res.statusCode = statusCode;
      if (type !== undefined) res.setHeader("content-type", type);
      if (streaming) res.flushHeaders();
    },
    onResponseData(controller, chunk) {
      if (!streaming) {
        chunks.push(chunk);
        return;
      }
      if (!res.write(chunk)) {
        controller.pause();
        res.once("drain", () => controller.resume());
      }
    },
    onResponseEnd() {
      if (streaming) {
        res.end();
        return;
      }
      const body = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
      chunks = [];
      res.setHeader("content-length", body.length);
      res.end(body);
    },
    onResponseError(controller, err) {
      if (res.headersSent) res.destroy(err);
      else {
        res.statusCode = 502;
        res.end();
      }
    },
  };
}

const server = createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    const body = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
    pool.dispatch({ method: req.method, path: req.url, headers: forwardHeaders(req.headers), body }, handler(res));
  });
});

const stop = () => {
  server.close();
  server.closeAllConnections();
  pool.destroy().finally(() => process.exit(0));
};
process.once("SIGTERM", stop);
process.once("SIGINT", stop);

// The gateway's and the emulator's accept backlog: with Node's default (511) a burst of 1,000
// streams would lose connection attempts to SYN retries here and not there, an unfair floor.
server.listen({ port: 0, host: "127.0.0.1", backlog: 4096 }, () => {
  process.stdout.write(`bare-proxy listening on http://127.0.0.1:${server.address().port}\n`);
});
