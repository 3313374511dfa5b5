// SIGINT/SIGTERM held while a one-shot command has an embedded PostgreSQL open (`weir migrate`,
// `users create --bootstrap`, `tokens create --recover`): Node's default would kill the command
// and leave PostgreSQL running. The signal is noted instead; the command
// closes the database (stopping PostgreSQL) and ends with "interrupted" if its work had not
// begun, or finishes the work it had begun (a migration half applied helps no one).
import { CliError } from "./cli-error.js";

export class HeldSignals {
  private received: NodeJS.Signals | undefined;
  private readonly onSignal = (signal: NodeJS.Signals): void => {
    this.received ??= signal;
  };

  constructor() {
    process.on("SIGINT", this.onSignal);
    process.on("SIGTERM", this.onSignal);
  }

  /** Throws CliError when a signal came: the command stops before its work. */
  throwIfReceived(): void {
    if (this.received !== undefined) throw new CliError(`interrupted by ${this.received} while opening the database: the command did not run`);
  }

  /** Node's default handling again. */
  release(): void {
    process.off("SIGINT", this.onSignal);
    process.off("SIGTERM", this.onSignal);
  }
}
