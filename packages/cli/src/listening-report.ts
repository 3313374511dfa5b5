// How a `weir gateway` started by `weir start` tells its parent where it listens: one message
// over Node's IPC channel, sent once the listener is bound, carrying the gateway's own URL (the
// address bound, port 0 resolved). The parent announces that URL instead of one built from the
// flag: probing a port and handing it on leaves a gap in which another process can take it, and
// a hostname (`localhost`) is not the address bound.
import { isIP } from "node:net";

export const LISTENING_REPORT_TYPE = "weir-listening";

export interface ListeningReport {
  readonly type: typeof LISTENING_REPORT_TYPE;
  /** "http://ip:port" of the listener, https:// with TLS (an IPv6 address in brackets). */
  readonly url: string;
}

/**
 * Sends the report when this process has an IPC channel (a parent started it with one); run by
 * hand, it does nothing. A parent gone meanwhile is not an error: --exit-with-parent stops us.
 */
export function reportListening(url: string, onError: (err: Error) => void): void {
  if (process.send === undefined) return;
  const report: ListeningReport = { type: LISTENING_REPORT_TYPE, url };
  // With a callback, a closed channel is handed to it instead of an unhandled 'error' event.
  process.send(report, (err: Error | null) => {
    if (err) onError(err);
  });
}

/** The report in an IPC message, or undefined for any other message or a URL that is not an http(s)://ip:port one. */
export function parseListeningReport(message: unknown): ListeningReport | undefined {
  if (typeof message !== "object" || message === null) return undefined;
  const { type, url } = message as Record<string, unknown>;
  if (type !== LISTENING_REPORT_TYPE || typeof url !== "string" || !URL.canParse(url)) return undefined;
  const parsed = new URL(url);
  const ip = parsed.hostname.replace(/^\[(.*)\]$/, "$1");
  // A bound port is never 0; URL leaves port 80 (443) out of `port`, as it leaves it out of the text.
  if ((parsed.protocol !== "http:" && parsed.protocol !== "https:") || isIP(ip) === 0 || parsed.port === "0" || parsed.pathname !== "/") return undefined;
  return { type, url };
}
