// Aligned plain-text tables for list commands (and --json for scripts).

export type Cell = string | number | boolean | null | undefined;

// SECURITY: cells hold what clients sent (a model name comes from a request body): control
// characters would reach the operator's terminal as escape sequences (clearing it, retitling it,
// writing the clipboard) or forge table rows. C0, DEL, C1 and the bidi overrides that reorder
// text are shown escaped instead.
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

function text(cell: Cell): string {
  const value = cell === null || cell === undefined ? "-" : String(cell);
  return value.replace(UNSAFE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** Renders rows under upper-case headers, columns padded to their widest cell. */
export function renderTable(headers: readonly string[], rows: readonly (readonly Cell[])[]): string {
  const cells = [headers.map((h) => h.toUpperCase()), ...rows.map((r) => r.map(text))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? "").length)));
  return cells.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join("  ").trimEnd()).join("\n") + "\n";
}

export function printList(json: boolean, data: unknown, headers: readonly string[], rows: readonly (readonly Cell[])[]): void {
  process.stdout.write(json ? `${JSON.stringify(data, null, 2)}\n` : renderTable(headers, rows));
}
