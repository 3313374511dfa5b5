// Errors on one line: fatal start-up messages, and outage warnings that need no stack.

/** An error and its causes on one line (at most five, newlines folded). */
export function oneLineError(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err; e !== undefined && e !== null && parts.length < 5; e = (e as { cause?: unknown }).cause) {
    parts.push(e instanceof Error ? e.message : String(e));
    if (!(e instanceof Error)) break;
  }
  return parts.join(": ").replace(/\s*\n\s*/g, " ");
}
