// Resolves on the first SIGINT/SIGTERM and keeps handling later ones: a Ctrl-C reaches both us
// (through the terminal's process group) and npm, which forwards it once more; a default
// handler for that second signal would kill us half-way through a graceful shutdown. A later
// signal is logged, so an operator who presses Ctrl-C again learns why the process is still there.
import type { Logger } from "pino";

export function shutdownSignal(logger: Logger): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    let first: NodeJS.Signals | undefined;
    const onSignal = (signal: NodeJS.Signals) => {
      if (first) {
        // Already stopping; shutdown is bounded by its own deadlines.
        logger.warn({ signal }, "already shutting down: in-flight work gets until the shutdown deadlines (kill -9 would lose it)");
        return;
      }
      first = signal;
      resolve(signal);
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
  });
}
