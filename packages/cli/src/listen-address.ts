// "host:port" flags.
import { CliError } from "./cli-error.js";

export function parseListen(value: string): { host: string; port: number } {
  const i = value.lastIndexOf(":");
  const port = Number(value.slice(i + 1));
  const host = value.slice(0, i).replace(/^\[(.*)\]$/, "$1");
  if (i <= 0 || !host || !/^[0-9]+$/.test(value.slice(i + 1)) || port > 65535) {
    throw new CliError(`invalid address ${JSON.stringify(value)}: want host:port (port 0 picks a free one)`);
  }
  return { host, port };
}
