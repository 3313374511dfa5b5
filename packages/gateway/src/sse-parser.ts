// An incremental Server-Sent Events parser (WHATWG HTML §9.2.6) for streams passing through the
// gateway: bytes go in as they arrive, complete events come out with their exact raw text so
// the gateway can forward each event the moment it is complete and inspect it on the way.

/** One complete event block. */
export interface SseEvent {
  /** The event's exact text including its terminating blank line; this is what gets forwarded. */
  readonly raw: string;
  /** The `event:` field, when present. */
  readonly event: string | undefined;
  /** `data:` lines joined with "\n"; undefined when the block had no data field (e.g. a comment). */
  readonly data: string | undefined;
  /** The `id:` field, when present. */
  readonly id: string | undefined;
}

/**
 * Splits a byte stream into SSE events; handles events split across chunks, CRLF, CR and LF.
 * Linear in the stream's size however long a line is: a chunk without a line end is only
 * set aside, and the pieces of a line are joined once, when its end arrives (a multi-megabyte
 * event, such as a server tool's document, must not cost a rescan per chunk).
 */
export class SseParser {
  private readonly decoder = new TextDecoder("utf-8");
  /** The start of an unfinished line, in the pieces it arrived in. */
  private partial: string[] = [];
  private partialLength = 0;
  private block = "";
  private eventType: string | undefined;
  private dataLines: string[] | undefined;
  private lastId: string | undefined;

  /** Feeds bytes (or text); returns the events completed by them, in order. */
  push(chunk: Uint8Array | string): SseEvent[] {
    const text = typeof chunk === "string" ? chunk : this.decoder.decode(chunk, { stream: true });
    if (text === "") return [];
    const partial = this.partial;
    if (partial.length > 0 && !endsWithCr(partial[partial.length - 1] ?? "") && !hasLineEnd(text)) {
      partial.push(text);
      this.partialLength += text.length;
      return [];
    }
    return this.drain(this.takePartial(text), false);
  }

  /**
   * Ends the stream. Returns events still completed by the final bytes, and the text of an
   * unterminated last event (empty when the stream ended on an event boundary).
   */
  end(): { events: SseEvent[]; leftover: string } {
    const events = this.drain(this.takePartial(this.decoder.decode()), true);
    const leftover = this.block + this.takePartial("");
    this.block = "";
    this.resetFields();
    return { events, leftover };
  }

  /** Text received but not yet part of a complete event. */
  get pending(): string {
    return this.block + this.partial.join("");
  }

  /** The length of `pending`, without building it. */
  get pendingLength(): number {
    return this.block.length + this.partialLength;
  }

  private takePartial(text: string): string {
    const partial = this.partial;
    if (partial.length === 0) return text;
    this.partial = [];
    this.partialLength = 0;
    return partial.length === 1 ? (partial[0] ?? "") + text : partial.join("") + text;
  }

  private drain(buf: string, final: boolean): SseEvent[] {
    const events: SseEvent[] = [];
    let start = 0;
    while (start < buf.length) {
      let end = -1;
      let next = -1;
      for (let i = start; i < buf.length; i++) {
        const c = buf.charCodeAt(i);
        if (c === 10) {
          end = i;
          next = i + 1;
          break;
        }
        if (c === 13) {
          if (i + 1 < buf.length) {
            end = i;
            next = buf.charCodeAt(i + 1) === 10 ? i + 2 : i + 1;
          } else if (final) {
            end = i;
            next = i + 1;
          }
          // A CR at the very end may be the first half of CRLF: wait for more bytes.
          break;
        }
      }
      if (end < 0) break;
      const line = buf.slice(start, end);
      this.block += buf.slice(start, next);
      start = next;
      if (line === "") {
        events.push({
          raw: this.block,
          event: this.eventType,
          data: this.dataLines?.join("\n"),
          id: this.lastId,
        });
        this.block = "";
        this.resetFields();
      } else {
        this.field(line);
      }
    }
    if (start < buf.length) {
      const rest = start === 0 ? buf : buf.slice(start);
      this.partial.push(rest);
      this.partialLength += rest.length;
    }
    return events;
  }

  private field(line: string): void {
    if (line.charCodeAt(0) === 58) return; // ":" comment
    const colon = line.indexOf(":");
    const name = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.charCodeAt(0) === 32) value = value.slice(1);
    switch (name) {
      case "event":
        this.eventType = value;
        return;
      case "data":
        (this.dataLines ??= []).push(value);
        return;
      case "id":
        this.lastId = value;
        return;
      default:
        return;
    }
  }

  private resetFields(): void {
    this.eventType = undefined;
    this.dataLines = undefined;
    this.lastId = undefined;
  }
}

function hasLineEnd(text: string): boolean {
  return text.includes("\n") || text.includes("\r");
}

function endsWithCr(text: string): boolean {
  return text.charCodeAt(text.length - 1) === 13;
}
