// A request's log context: the facts known so far (method, path, user, interception, ...),
// merged into a line only when one is written. pino's child() serialises its bindings the
// moment it is made; a request that acquires three of them pays for that on every request,
// even when the level is off and nothing is ever written.

import type { Logger } from "pino";

type Level = "debug" | "info" | "warn" | "error";
type Fields = Readonly<Record<string, unknown>>;

export class RequestLog {
  constructor(
    private readonly logger: Logger,
    /** Fields this context added to its parent's. */
    private readonly own: Fields = {},
    private readonly parent?: RequestLog,
  ) {}

  /**
   * One line's fields: every context's, oldest first, then the line's own; a later one wins.
   * Built in one object: spreading each level into the next made an object per level, and
   * cost ~10 µs for the line every interception writes at info, against ~3 µs this way.
   */
  private lineFields(fields: Fields | undefined): Record<string, unknown> {
    const line = this.addContext({});
    return fields === undefined ? line : Object.assign(line, fields);
  }

  /** Adds the parents' fields, then this context's own, to `line`. */
  private addContext(line: Record<string, unknown>): Record<string, unknown> {
    this.parent?.addContext(line);
    return Object.assign(line, this.own);
  }

  /** The same request, knowing more. */
  with(fields: Fields): RequestLog {
    return new RequestLog(this.logger, fields, this);
  }

  isLevelEnabled(level: Level): boolean {
    return this.logger.isLevelEnabled(level);
  }

  debug(fields: Fields | string, msg?: string): void {
    this.write("debug", fields, msg);
  }

  info(fields: Fields | string, msg?: string): void {
    this.write("info", fields, msg);
  }

  warn(fields: Fields | string, msg?: string): void {
    this.write("warn", fields, msg);
  }

  error(fields: Fields | string, msg?: string): void {
    this.write("error", fields, msg);
  }

  private write(level: Level, fields: Fields | string, msg: string | undefined): void {
    if (!this.logger.isLevelEnabled(level)) return;
    if (typeof fields === "string") this.logger[level](this.lineFields(undefined), fields);
    else this.logger[level](this.lineFields(fields), msg);
  }
}
