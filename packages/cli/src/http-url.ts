// URL flags (the control plane's, the providers'). Checked here so the error names the flag: the
// gateway's own check names its option (controlPlaneUrl, openai.baseUrl), which no operator typed.
import { CliError } from "./cli-error.js";

export function httpUrl(flag: string, value: string): string {
  let protocol: string | undefined;
  try {
    protocol = new URL(value).protocol;
  } catch {
    // Not a URL at all.
  }
  if (protocol !== "http:" && protocol !== "https:") throw new CliError(`${flag} must be an http:// or https:// URL, got ${JSON.stringify(value)}`);
  return value;
}
