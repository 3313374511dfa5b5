// `mkdir -p` without Node's recursive mode, which never returns when the kernel refuses an entry
// with ENOENT under a parent that exists (a directory given under /proc, say): Node then retries
// the parent and the entry for ever on a thread-pool thread at full CPU, and the process cannot
// exit, SIGTERM or not. Here each missing entry is made once, its refusal the error.
import { mkdir, stat } from "node:fs/promises";
import { dirname, resolve } from "node:path";

const errorCode = (err: unknown): unknown => (err as { code?: unknown } | undefined)?.code;

/** Makes `dir` and its missing parents with `mode`; an entry that exists already is no error. */
export async function makeDirectory(dir: string, mode: number): Promise<void> {
  const missing: string[] = [];
  for (let entry = resolve(dir); ; ) {
    try {
      await stat(entry);
      break;
    } catch (err) {
      if (errorCode(err) !== "ENOENT") throw err;
    }
    missing.push(entry);
    const parent = dirname(entry);
    if (parent === entry) break;
    entry = parent;
  }
  for (const entry of missing.reverse()) {
    try {
      await mkdir(entry, { mode });
    } catch (err) {
      // Made meanwhile by someone else: as good.
      if (errorCode(err) !== "EEXIST") throw err;
    }
  }
}
