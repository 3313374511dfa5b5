import type { ReceivedRequest } from './received-request.js';

interface Waiter {
  readonly count: number;
  readonly resolve: (requests: readonly ReceivedRequest[]) => void;
  readonly reject: (error: Error) => void;
  readonly timer: NodeJS.Timeout;
}

/** Fixed-size ring buffer of received requests with push-based waiting (no polling). */
export class RequestRecorder {
  private readonly slots: (ReceivedRequest | undefined)[];
  private start = 0;
  private size = 0;
  private seq = 0;
  private readonly waiters = new Set<Waiter>();

  constructor(private readonly capacity: number) {
    this.slots = new Array<ReceivedRequest | undefined>(capacity);
  }

  get length(): number {
    return this.size;
  }

  nextSeq(): number {
    this.seq += 1;
    return this.seq;
  }

  add(request: ReceivedRequest): void {
    if (this.capacity <= 0) return;
    if (this.size < this.capacity) {
      this.slots[(this.start + this.size) % this.capacity] = request;
      this.size += 1;
    } else {
      // Full: overwrite the oldest entry.
      this.slots[this.start] = request;
      this.start = (this.start + 1) % this.capacity;
    }
    if (this.waiters.size > 0) this.notify();
  }

  /** Oldest first. A fresh array each call; the entries themselves are live. */
  list(): ReceivedRequest[] {
    const out: ReceivedRequest[] = [];
    for (let i = 0; i < this.size; i++) {
      const entry = this.slots[(this.start + i) % this.capacity];
      if (entry !== undefined) out.push(entry);
    }
    return out;
  }

  clear(): number {
    const cleared = this.size;
    this.slots.fill(undefined);
    this.start = 0;
    this.size = 0;
    return cleared;
  }

  /** Resolves once at least `count` requests are recorded; rejects after `timeoutMs`. */
  waitFor(count: number, timeoutMs: number): Promise<readonly ReceivedRequest[]> {
    if (this.size >= count) return Promise.resolve(this.list());
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        count,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters.delete(waiter);
          reject(new Error(`timed out after ${timeoutMs} ms waiting for ${count} recorded requests (have ${this.size})`));
        }, timeoutMs),
      };
      this.waiters.add(waiter);
    });
  }

  /** Rejects all pending waiters (used on shutdown so nothing keeps the process alive). */
  cancelWaiters(reason: string): void {
    for (const waiter of this.waiters) {
      clearTimeout(waiter.timer);
      waiter.reject(new Error(reason));
    }
    this.waiters.clear();
  }

  private notify(): void {
    for (const waiter of this.waiters) {
      if (this.size >= waiter.count) {
        clearTimeout(waiter.timer);
        this.waiters.delete(waiter);
        waiter.resolve(this.list());
      }
    }
  }
}
