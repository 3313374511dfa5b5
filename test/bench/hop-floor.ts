// The machine's floor for putting any process in a request's path: sequential round trips of a
// 64-byte message to a TCP echo process, directly and through a relay process that only copies
// bytes (tcp-echo-relay.mjs: no HTTP, no parsing). The difference is what one more process costs
// here at concurrency 1 before any proxy code runs: two more loopback hops, two more wake-ups
// and, on a virtual machine, the host waking an idle vCPU for them.
import { connect, type Socket } from "node:net";
import { waitForOutput, type Daemon, type ProcessSet } from "./procs.js";
import { summarize, type Summary } from "./stats.js";

const MESSAGE = Buffer.alloc(64, 0x61);

export interface HopFloor {
  /** Round trips per path (after a warm-up). */
  readonly roundTrips: number;
  readonly direct: Summary;
  readonly relay: Summary;
  readonly addedP50Ms: number;
  readonly addedP99Ms: number;
}

/** One connection's sequential round trips: write the message, wait for all of it back. */
class RoundTripper {
  private pending = 0;
  private settle: ((err?: Error) => void) | undefined;
  private failure: Error | undefined;

  constructor(private readonly socket: Socket) {
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => {
      this.pending -= chunk.length;
      if (this.pending <= 0) this.finish();
    });
    const fail = (err?: Error): void => {
      this.failure ??= err ?? new Error("the connection closed during a round trip");
      this.finish(this.failure);
    };
    socket.on("error", fail);
    socket.on("close", () => fail());
  }

  /** Milliseconds from write to the last byte of the echo. */
  roundTrip(): Promise<number> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<number>((resolve, reject) => {
      const started = process.hrtime.bigint();
      this.pending = MESSAGE.length;
      this.settle = (err) => (err ? reject(err) : resolve(Number(process.hrtime.bigint() - started) / 1e6));
      this.socket.write(MESSAGE);
    });
  }

  close(): void {
    this.socket.destroy();
  }

  private finish(err?: Error): void {
    const settle = this.settle;
    this.settle = undefined;
    settle?.(err);
  }
}

async function open(port: number): Promise<RoundTripper> {
  const socket = connect(port, "127.0.0.1");
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  return new RoundTripper(socket);
}

/** `n` round trips on each path, alternating, so drift of a shared machine weighs on both alike. */
async function alternate(direct: RoundTripper, relay: RoundTripper, n: number, signal: AbortSignal): Promise<{ direct: number[]; relay: number[] }> {
  const out = { direct: [] as number[], relay: [] as number[] };
  for (let i = 0; i < n; i++) {
    signal.throwIfAborted();
    const relayFirst = i % 2 === 1;
    if (relayFirst) out.relay.push(await relay.roundTrip());
    out.direct.push(await direct.roundTrip());
    if (!relayFirst) out.relay.push(await relay.roundTrip());
  }
  return out;
}

export async function measureHopFloor(procs: ProcessSet, script: string, roundTrips: number, env: NodeJS.ProcessEnv, signal: AbortSignal): Promise<HopFloor> {
  const echo = procs.spawnNode("tcp-echo", [script, "echo"], env);
  let relay: Daemon | undefined;
  const connections: RoundTripper[] = [];
  try {
    const echoPort = Number((await waitForOutput(echo, /echo listening on (\d+)/, 15_000))[1]);
    relay = procs.spawnNode("tcp-relay", [script, "relay", String(echoPort)], env);
    const relayPort = Number((await waitForOutput(relay, /relay listening on (\d+)/, 15_000))[1]);
    const direct = await open(echoPort);
    connections.push(direct);
    const relayed = await open(relayPort);
    connections.push(relayed);
    await alternate(direct, relayed, Math.max(100, Math.ceil(roundTrips / 10)), signal);
    const samples = await alternate(direct, relayed, roundTrips, signal);
    const d = summarize(samples.direct);
    const r = summarize(samples.relay);
    return { roundTrips, direct: d, relay: r, addedP50Ms: r.p50 - d.p50, addedP99Ms: r.p99 - d.p99 };
  } finally {
    for (const c of connections) c.close();
    if (relay) await procs.stop(relay, 2_000);
    await procs.stop(echo, 2_000);
  }
}
