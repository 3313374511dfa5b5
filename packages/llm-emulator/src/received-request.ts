/** One request as it reached the emulator. */
export interface ReceivedRequest {
  /** 1-based arrival order since the emulator started (not reset by clearRequests). */
  seq: number;
  method: string;
  /** Path including any query string, e.g. `/openai/v1/chat/completions`. */
  path: string;
  /** Lowercased header names; repeated headers joined with ", ". */
  headers: Record<string, string>;
  body: string;
  /** Parsed body, or undefined when empty or not valid JSON. */
  json: unknown;
  /** `Date.now()` when the body had been fully received. */
  receivedAt: number;
  /** The client went away before the response finished. */
  aborted: boolean;
  /** The response was completely written. */
  finished: boolean;
}
