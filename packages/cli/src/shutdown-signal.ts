// Resolves on the first SIGINT/SIGTERM and keeps handling later ones: a Ctrl-C reaches both us
// (through the terminal's process group) and npm, which forwards it once more; a default
// handler for that second signal would kill us half-way through a graceful shutdown.
export function shutdownSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    let first: NodeJS.Signals | undefined;
    const onSignal = (signal: NodeJS.Signals) => {
      if (first) return; // already stopping; shutdown is bounded by its own deadlines
      first = signal;
      resolve(signal);
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
  });
}
