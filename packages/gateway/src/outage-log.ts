// How a retried failure is logged during an outage: its stack when its message differs from
// the last one logged, one line (the message) when it repeats it. A stack every few seconds buried
// the logs; only one per outage hid a different failure that began partway through it (the
// control plane answering again, but refusing the gateway key).

/** The `err` field for the retry logs of one outage at a time. */
export class OutageLog {
  private lastMessage: string | undefined;

  /** `err` itself when its message differs from the last one logged, else its message. */
  detail(err: unknown): unknown {
    if (!(err instanceof Error)) return err;
    if (err.message === this.lastMessage) return err.message;
    this.lastMessage = err.message;
    return err;
  }

  /** The outage is over: the next failure is logged whole. */
  end(): void {
    this.lastMessage = undefined;
  }
}
