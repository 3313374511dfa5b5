// How a `weir gateway` started by `weir start` tells its parent where it listens: one message
// over Node's IPC channel, sent once the listener is bound. The parent builds the gateway's URL
// from it instead of from the flag: probing a port and handing it on leaves a gap in which
// another process can take it, and a hostname (`localhost`) is not the address bound.
import { isIP } from "node:net";

export const LISTENING_REPORT_TYPE = "weir-listening";

export interface ListeningReport {
  readonly type: typeof LISTENING_REPORT_TYPE;
  /** The IP address bound (an IPv6 one without brackets). */
  readonly address: string;
  readonly port: number;
}

/**
 * Sends the report when this process has an IPC channel (a parent started it with one); run by
 * hand, it does nothing. A parent gone meanwhile is not an error: --exit-with-parent stops us.
 */
export function reportListening(bound: { address: string; port: number }, onError: (err: Error) => void): void {
  if (process.send === undefined) return;
  const report: ListeningReport = { type: LISTENING_REPORT_TYPE, address: bound.address, port: bound.port };
  // With a callback, a closed channel is handed to it instead of an unhandled 'error' event.
  process.send(report, (err: Error | null) => {
    if (err) onError(err);
  });
}

/** The report in an IPC message, or undefined for any other message. */
export function parseListeningReport(message: unknown): ListeningReport | undefined {
  if (typeof message !== "object" || message === null) return undefined;
  const { type, address, port } = message as Record<string, unknown>;
  if (type !== LISTENING_REPORT_TYPE || typeof address !== "string" || isIP(address) === 0) return undefined;
  if (typeof port !== "number" || !Number.isInteger(port) || port < 1 || port > 65535) return undefined;
  return { type, address, port };
}

/** "http://host:port" of a reported address; an IPv6 one in brackets. */
export function listeningUrl(report: ListeningReport): string {
  const host = isIP(report.address) === 6 ? `[${report.address}]` : report.address;
  return `http://${host}:${report.port}`;
}
