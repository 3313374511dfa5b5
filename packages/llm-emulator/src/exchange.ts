import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ReceivedRequest } from './received-request.js';

/**
 * State of one request/response pair: the pending timer (TTFB or SSE spacing),
 * whether the connection is gone, and the recorded request to update.
 */
export class Exchange {
  /** True once the response is closed (finished, aborted by the client, or disconnected by us). */
  closed = false;
  private timer: NodeJS.Timeout | undefined;
  private intentionalDisconnect = false;

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    private readonly record: ReceivedRequest | undefined,
  ) {
    if (record !== undefined) res.once('finish', this.onFinish);
    res.once('close', this.onClose);
  }

  /** Runs `fn` after `ms` unless the exchange closes first. */
  after(ms: number, fn: () => void): void {
    if (this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (!this.closed) fn();
    }, ms);
  }

  /**
   * Simulates an upstream dying: whatever was written is flushed, then the
   * connection is closed without completing the response.
   */
  disconnect(): void {
    this.intentionalDisconnect = true;
    const socket = this.res.socket;
    if (socket === null) return;
    if (socket.writableLength === 0) socket.destroy();
    else socket.destroySoon();
  }

  private readonly onFinish = (): void => {
    if (this.record !== undefined) this.record.finished = true;
  };

  private readonly onClose = (): void => {
    this.closed = true;
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.record !== undefined && !this.res.writableFinished && !this.intentionalDisconnect) {
      this.record.aborted = true;
    }
  };
}
