// Masking full keys in text that is about to be logged or printed (a request path, an error
// line): anything shaped like a user API key keeps its id, anything shaped like a gateway key
// keeps its public prefix, and the secret part becomes "***" (DESIGN §7: keys are logged as
// their prefix or id only). Used where the text is the client's, e.g. a full key pasted where a
// key id belongs in `DELETE /api/v2/users/{id}/keys/{keyId}`.
import { API_KEY_ID_LENGTH, API_KEY_SECRET_LENGTH } from "./api-key.js";
import { GATEWAY_KEY_LENGTH, GATEWAY_KEY_PREFIX_LENGTH, GATEWAY_KEY_TYPE_PREFIX } from "./gateway-key.js";

/** What replaces a secret. */
export const REDACTED = "***";

const GATEWAY_KEY_SECRET_LENGTH = GATEWAY_KEY_LENGTH - GATEWAY_KEY_PREFIX_LENGTH;
/** Both key shapes contain a run of at least this many alphanumerics; UUIDs and ids do not. */
const MIN_SECRET_RUN = Math.min(API_KEY_SECRET_LENGTH, GATEWAY_KEY_LENGTH - GATEWAY_KEY_TYPE_PREFIX.length);

// No word boundaries: a key glued to other text ("%20<key>", "<key>x") is masked all the same.
// The separator may arrive percent-encoded ("-" as %2D, "_" as %5F).
const API_KEY_ANYWHERE = new RegExp(`([0-9A-Za-z]{${API_KEY_ID_LENGTH}})(?:-|%2[Dd])[0-9A-Za-z]{${API_KEY_SECRET_LENGTH}}`, "g");
const GATEWAY_KEY_ANYWHERE = new RegExp(
  `(${GATEWAY_KEY_TYPE_PREFIX.slice(0, -1)}(?:_|%5[Ff])[0-9A-Za-z]{${GATEWAY_KEY_PREFIX_LENGTH - GATEWAY_KEY_TYPE_PREFIX.length}})[0-9A-Za-z]{${GATEWAY_KEY_SECRET_LENGTH}}`,
  "g",
);

/**
 * `text` with the secret of every full user API key or gateway key in it replaced by "***"
 * (the key id or prefix stays). Cheap for ordinary text: without a run of 22 alphanumerics
 * (which UUIDs, key ids and route words never have) it returns `text` without any regex work.
 */
export function redactKeys(text: string): string {
  if (!hasLongAlphanumericRun(text)) return text;
  return text.replace(API_KEY_ANYWHERE, `$1-${REDACTED}`).replace(GATEWAY_KEY_ANYWHERE, `$1${REDACTED}`);
}

function hasLongAlphanumericRun(text: string): boolean {
  if (text.length < MIN_SECRET_RUN) return false;
  let run = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const alphanumeric = (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
    if (!alphanumeric) run = 0;
    else if (++run >= MIN_SECRET_RUN) return true;
  }
  return false;
}
