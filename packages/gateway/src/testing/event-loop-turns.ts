// How many times the event loop turned while some work was under way: a test's evidence that
// the work ran off the event loop (on a worker thread) instead of holding it.

/** Counts event-loop turns until `work` settles. */
export async function turnsDuring<T>(work: Promise<T>): Promise<{ result: T; turns: number }> {
  let turns = 0;
  let done = false;
  const spin = (): void => {
    if (done) return;
    turns++;
    setImmediate(spin);
  };
  setImmediate(spin);
  try {
    return { result: await work, turns };
  } finally {
    done = true;
  }
}
