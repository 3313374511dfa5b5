// What `weir start` creates once and reuses on the next start: the owner's admin token, the
// demo user's API key and the gateway key. Kept in .weir/state.json with mode 0600.
import { existsSync, readFileSync, writeFileSync } from "node:fs";

export interface StartState {
  ownerToken?: string;
  demoUserId?: string;
  demoApiKey?: string;
  gatewayKey?: string;
  gatewayKeyId?: string;
}

export function readState(path: string): StartState {
  if (!existsSync(path)) return {};
  try {
    return JSON.parse(readFileSync(path, "utf8")) as StartState;
  } catch {
    return {};
  }
}

export function writeState(path: string, state: StartState): void {
  writeFileSync(path, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
}

/** KEY=value lines, mode 0600. */
export function writeEnvFile(path: string, values: Record<string, string>): void {
  writeFileSync(path, Object.entries(values).map(([k, v]) => `${k}=${v}\n`).join(""), { mode: 0o600 });
}
