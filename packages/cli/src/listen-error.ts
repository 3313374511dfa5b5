// A daemon that cannot bind its address says why in the operator's terms, naming the flag:
// Node's own text ("listen EADDRINUSE: address already in use 127.0.0.1:7081") names neither.
import { createServer } from "node:net";
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

/**
 * Refuses an address this process cannot listen on (another process holds it, it is not this
 * machine's, ...) before anything starts, naming `flag`: the daemon's own listen would meet it
 * only after its database or control plane, under a logged stack. Not a guarantee: the address
 * can be taken before the daemon binds it, which then fails as above. Port 0 always passes.
 */
export async function ensureAddressFree(flag: string, address: { host: string; port: number }): Promise<void> {
  if (address.port === 0) return;
  // A client that connects meanwhile (a load balancer's check) must not hold the close up.
  const server = createServer((socket) => socket.destroy());
  await new Promise<void>((resolveListen, reject) => {
    server.once("error", (err) => reject(listenCliError(flag, err) ?? err));
    server.listen({ host: address.host, port: address.port }, resolveListen);
  });
  await new Promise((r) => server.close(r));
}
