// Public surface of @weir/cli (for tests and embedding): the command tree.
export { createProgram } from "./program.js";
export { renderTable } from "./table.js";
export { parseDurationSeconds } from "./duration.js";
