/** What a route handler wants sent: a complete JSON body or a list of SSE frames. */
export type Reply =
  | {
      readonly kind: 'json';
      readonly status: number;
      readonly body: string;
      readonly headers?: Readonly<Record<string, string>>;
    }
  | { readonly kind: 'sse'; readonly events: readonly string[] };

export function jsonReply(value: unknown, status = 200): Reply {
  return { kind: 'json', status, body: JSON.stringify(value) };
}
