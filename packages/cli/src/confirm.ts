// Asks before destructive actions; refuses when there is no terminal to ask on.
import { createInterface } from "node:readline/promises";
import { CliError } from "./cli-error.js";

export async function confirm(question: string, yes: boolean): Promise<void> {
  if (yes) return;
  if (!process.stdin.isTTY) throw new CliError(`${question} — refusing without --yes (no terminal to confirm on)`);
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = (await rl.question(`${question} [y/N] `)).trim().toLowerCase();
    if (answer !== "y" && answer !== "yes") throw new CliError("aborted");
  } finally {
    rl.close();
  }
}
