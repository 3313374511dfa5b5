// Judging and parsing a bridged request's body: the two steps both paths take, inline on the
// event loop for the usual small body and on the parse thread (parse-worker.ts) for a large one,
// so the two can never answer differently. The caller then runs the API's parseRequest on the
// object and its text.

import { InvalidRequestBodyError } from "./errors.js";
import { asObject, jsonShapeProblem, tryParseJson } from "./json.js";
import type { JsonObject } from "./json.js";

/**
 * Request bodies beyond these are refused before parsing (json.ts jsonShapeProblem): within them
 * JSON.parse takes at most about 0.2 s. Real requests stay far below: a long agent session with
 * a hundred tools holds some tens of thousands of objects and nests a few dozen levels.
 */
export const REQUEST_JSON_LIMITS = Object.freeze({ maxDepth: 512, maxContainers: 100_000, maxValues: 1_000_000, maxMembers: 200_000 });

/** The body's JSON text, once its shape is within REQUEST_JSON_LIMITS (else InvalidRequestBodyError). */
export function requestBodyText(raw: Buffer): string {
  const tooCostly = jsonShapeProblem(raw, REQUEST_JSON_LIMITS);
  if (tooCostly !== undefined) throw new InvalidRequestBodyError(tooCostly);
  return raw.toString("utf8");
}

/** The body parsed; InvalidRequestBodyError unless it is a JSON object. */
export function requestBodyObject(text: string): JsonObject {
  // JSON.parse never yields undefined, so undefined here means the text did not parse.
  const json = tryParseJson(text);
  if (json === undefined) throw new InvalidRequestBodyError("the body is not valid JSON");
  const body = asObject(json);
  if (body === undefined) throw new InvalidRequestBodyError("the body must be a JSON object");
  return body;
}
