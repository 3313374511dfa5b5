// Sweeps the gateway's in-memory maps keyed by what clients send (handlers per API key,
// authorization answers, circuit breakers) every 30 s on the gateway's clock. Each map is bounded
// but otherwise cleaned only when touched, so after a burst a quiet replica would keep stale
// entries — secret-derived ones among them — until the same keys came back.

import type { Logger } from "pino";
import type { Clock, TimerHandle } from "./clock.js";

export const IDLE_SWEEP_INTERVAL_MS = 30_000;

/** A map that can drop what no longer matters at a given time, answering how many entries went. */
export interface Sweepable {
  sweep(nowMs: number): number;
}

export interface IdleSweeperOptions {
  /** The maps to sweep, by the name the debug log gives them. */
  readonly targets: () => Readonly<Record<string, Sweepable | undefined>>;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly intervalMs?: number;
}

export class IdleSweeper {
  private timer: TimerHandle | undefined;
  private stopped = false;
  private readonly intervalMs: number;

  constructor(private readonly options: IdleSweeperOptions) {
    this.intervalMs = options.intervalMs ?? IDLE_SWEEP_INTERVAL_MS;
  }

  /** Schedules the sweeps; a no-op once stopped (a shutdown during start-up). */
  start(): void {
    if (this.stopped || this.timer !== undefined) return;
    this.schedule();
  }

  /** Cancels the next sweep for good. */
  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) this.options.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Sweeps every target now; a failure is logged, never thrown (it must not take the gateway down). */
  sweepNow(): void {
    try {
      const now = this.options.clock.now();
      const dropped: Record<string, number> = {};
      let total = 0;
      for (const [name, target] of Object.entries(this.options.targets())) {
        if (target === undefined) continue;
        dropped[name] = target.sweep(now);
        total += dropped[name];
      }
      if (total > 0) this.options.logger.debug({ dropped }, "idle sweep");
    } catch (err) {
      this.options.logger.error({ err }, "idle sweep failed");
    }
  }

  private schedule(): void {
    this.timer = this.options.clock.setTimeout(() => {
      this.timer = undefined;
      this.sweepNow();
      if (!this.stopped) this.schedule();
    }, this.intervalMs);
    // The real clock's timers are Node timers: a sweep alone must not keep the process alive.
    (this.timer as { unref?: () => void } | undefined)?.unref?.();
  }
}
