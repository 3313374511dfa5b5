// The text form of the record batch's text[], jsonb[], int8[], int4[] and bool[] parameters,
// made here instead of by pg. pg builds the same literal (lib/utils.js, arrayString) by running
// two global regex replaces over every element and concatenating piece by piece: for a batch of
// a few hundred records that was a sixth of everything the control plane allocated, and the
// escaping alone ~2 % of its CPU. Here an element is escaped only when it holds a backslash or a
// double quote (every jsonb value does, few others), in one pass, and the pieces are joined once.
//
// The literal is exactly pg's (pg-text-array.test.ts compares them), so Postgres parses the very
// same values; pg passes a string parameter on as it is.

/** Characters array syntax needs escaped inside a quoted element. */
const NEEDS_ESCAPE = /[\\"]/;
const ESCAPES = /[\\"]/g;

/**
 * pg's text form of `values` — strings, numbers, booleans and nulls; undefined when one is
 * anything else (pg then formats the array itself).
 */
export function textArrayLiteral(values: readonly unknown[]): string | undefined {
  const parts: string[] = new Array<string>(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    let text: string;
    if (v === null || v === undefined) {
      parts[i] = "NULL";
      continue;
    } else if (typeof v === "string") text = v;
    else if (typeof v === "number" || typeof v === "boolean") text = String(v); // pg: v.toString()
    else return undefined;
    // One pass puts a backslash before each backslash and quote: what pg's two replaces do.
    parts[i] = NEEDS_ESCAPE.test(text) ? `"${text.replace(ESCAPES, "\\$&")}"` : `"${text}"`;
  }
  return `{${parts.join(",")}}`;
}
