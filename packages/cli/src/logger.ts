// One pino logger per process, JSON to stdout (daemons) or to a file (weir start).
import { Option } from "commander";
import pino, { type Logger } from "pino";

export const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal", "silent"] as const;

export function logLevelOption(): Option {
  return new Option("--log-level <level>", "log level").choices(LOG_LEVELS).default("info").env("WEIR_LOG_LEVEL");
}

export function createLogger(level: string, name: string, destination?: string): Logger {
  return pino({ level, name }, destination ? pino.destination({ dest: destination, sync: false, mkdir: true }) : pino.destination(1));
}
