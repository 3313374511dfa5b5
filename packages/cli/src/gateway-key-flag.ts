// The gateway key a replica is given (--key, --key-file, WEIR_GATEWAY_KEY[_FILE]) is checked
// for shape before anything starts: a user's API key pasted in its place, or a key cut short,
// is refused at once in one line. Otherwise it was retried for as long as the control plane
// was unreachable, then refused by it as "AI Gateway key invalid" with no hint why.
// SECURITY: the message says nothing of the key but its length.
import { GATEWAY_KEY_LENGTH, GATEWAY_KEY_TYPE_PREFIX, hasGatewayKeyShape } from "@weir/proto";
import { CliError } from "./cli-error.js";
import { requireSecret } from "./secrets.js";

export function gatewayKeyFromFlags(flags: { key?: string; keyFile?: string }): string {
  const key = requireSecret("the gateway key", "key", flags.key, flags.keyFile);
  if (!hasGatewayKeyShape(key)) {
    throw new CliError(
      `the gateway key given (${key.length} characters) is not a gateway key: those are ${GATEWAY_KEY_LENGTH} characters, "${GATEWAY_KEY_TYPE_PREFIX}" then letters and digits, as \`weir keys create\` prints them`,
    );
  }
  return key;
}
