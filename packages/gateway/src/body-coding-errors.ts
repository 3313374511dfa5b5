// What a content decoder (content-coding.ts) reports about the bytes it was given. Anything
// else a decoder throws is the gateway's own failure, not the client's.

/** A layer decodes to, or would need to reserve, more than the body limit. */
export class DecodedTooLargeError extends Error {
  override readonly name = "DecodedTooLargeError";
}

/** The bytes are not what their content coding says. */
export class MalformedEncodingError extends Error {
  override readonly name = "MalformedEncodingError";
}
