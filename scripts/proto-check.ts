// npm run proto:check — runs the contract guard rails (proto-guards.ts) on the tree.
// Exits non-zero naming every failed guard. `--root DIR` checks another tree (tests use copies).
import { runGuards } from "./proto-guards.js";
import { rootFromArgs } from "./proto-tools.js";

const failed = await runGuards(rootFromArgs(process.argv), (line) => process.stdout.write(line));
process.exitCode = failed > 0 ? 1 : 0;
