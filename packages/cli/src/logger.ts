// One pino logger per process, JSON to stdout (daemons) or to a file (weir start).
import { openSync } from "node:fs";
import { Option } from "commander";
import pino, { type Logger } from "pino";

export const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal", "silent"] as const;

export function logLevelOption(): Option {
  return new Option("--log-level <level>", "log level").choices(LOG_LEVELS).default("info").env("WEIR_LOG_LEVEL");
}

/**
 * How log lines leave the process. A gateway writes a line per interception at info; written one
 * by one, each line was a write() that also woke whoever reads stdout. Lines are gathered into
 * blocks of about 4 KiB instead, written at least every 100 ms, and written off the event loop;
 * pino writes what is left when the process exits. A reader that stops reading no longer stalls
 * requests: once 16 MiB wait, further lines are dropped.
 */
const LOG_OUTPUT = Object.freeze({ sync: false, minLength: 4096, periodicFlush: 100, maxLength: 16 * 1024 * 1024 });

export function createLogger(level: string, name: string, destination?: string): Logger {
  // A log file is opened here, synchronously: opened by pino in the background, a process that
  // failed and exited before the file was open crashed flushing it ("sonic boom is not ready yet").
  const dest = destination === undefined ? 1 : openSync(destination, "a", 0o600);
  return pino({ level, name }, pino.destination({ ...LOG_OUTPUT, dest }));
}
