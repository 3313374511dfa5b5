// A daemon that cannot bind its address says why in the operator's terms, naming the flag:
// Node's own text ("listen EADDRINUSE: address already in use 127.0.0.1:7081") names neither.
import { CliError } from "./cli-error.js";

const REASONS: Readonly<Record<string, string>> = {
  EADDRINUSE: "another process listens there: stop it, or choose another port",
  EADDRNOTAVAIL: "not an address of this machine: use one of its own, or 0.0.0.0 for all",
  EACCES: "permission denied: ports below 1024 need root or CAP_NET_BIND_SERVICE",
};

/** The CliError for a failed listen() on the address `flag` gave, or undefined for any other error. */
export function listenCliError(flag: string, err: unknown): CliError | undefined {
  const e = err as (NodeJS.ErrnoException & { address?: string; port?: number }) | undefined;
  if (e?.syscall !== "listen" || e.code === undefined || REASONS[e.code] === undefined) return undefined;
  const host = e.address?.includes(":") ? `[${e.address}]` : e.address;
  return new CliError(`${flag} ${host}:${e.port}: ${REASONS[e.code]}`);
}
