// A pino logger whose JSON lines a test reads back.
import { Writable } from "node:stream";
import { pino, type Logger } from "pino";

/** Lines the logger wrote so far, parsed. */
export interface CapturedLogger {
  readonly logger: Logger;
  lines(): Record<string, any>[];
  /** The `msg` of each line. */
  messages(): string[];
}

export function captureLogger(level: pino.LevelWithSilent = "debug"): CapturedLogger {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk.toString("utf8"));
      done();
    },
  });
  const lines = (): Record<string, any>[] =>
    chunks
      .join("")
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, any>);
  return { logger: pino({ level }, stream), lines, messages: () => lines().map((l) => String(l.msg)) };
}
