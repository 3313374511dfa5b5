// Aligned plain-text tables for list commands (and --json for scripts).

export type Cell = string | number | boolean | null | undefined;

function text(cell: Cell): string {
  return cell === null || cell === undefined ? "-" : String(cell);
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
