// A provider that answers exactly what a test scripts — for shapes the LLM emulator does not
// produce (many parallel tool calls, interleaved thinking, odd text). It keeps every request it
// received, so a test can compare what the client sent, what reached the provider and what the
// control plane recorded.
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface ScriptedAnswer {
  readonly status?: number;
  readonly headers?: Record<string, string>;
  /** A JSON body, or the SSE events (each a complete `event:`/`data:` block) of a stream. */
  readonly json?: unknown;
  readonly events?: readonly string[];
  /** A JSON body sent exactly as written (instead of `json`). */
  readonly body?: string;
}

export interface ReceivedRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

export interface ScriptedUpstream {
  readonly url: string;
  readonly received: ReceivedRequest[];
  /** The answer to every following request. */
  answer(answer: ScriptedAnswer): void;
  close(): Promise<void>;
}

export async function startScriptedUpstream(): Promise<ScriptedUpstream> {
  let next: ScriptedAnswer = { status: 500, json: { error: { message: "no answer scripted" } } };
  const received: ReceivedRequest[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      received.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, body: Buffer.concat(chunks).toString("utf8") });
      const answer = next;
      if (answer.events !== undefined) {
        res.writeHead(answer.status ?? 200, { "content-type": "text/event-stream", ...answer.headers });
        for (const event of answer.events) res.write(event);
        res.end();
        return;
      }
      res.writeHead(answer.status ?? 200, { "content-type": "application/json", ...answer.headers });
      res.end(answer.body ?? JSON.stringify(answer.json));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    answer(answer) {
      next = answer;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** One SSE block: `event:` (when named) and `data:` lines, ended by a blank line. */
export function sse(data: unknown, event?: string): string {
  return `${event === undefined ? "" : `event: ${event}\n`}data: ${typeof data === "string" ? data : JSON.stringify(data)}\n\n`;
}
