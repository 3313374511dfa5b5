// A Chat Completions answer as OpenAI sends it, for provider stand-ins in tests.

export interface ChatCompletionOptions {
  readonly id: string;
  /** The message text (null beside tool calls). */
  readonly content?: string | null;
  readonly toolCalls?: readonly unknown[];
  readonly promptTokens?: number;
  readonly completionTokens?: number;
}

export function chatCompletion(options: ChatCompletionOptions): Record<string, unknown> {
  const promptTokens = options.promptTokens ?? 5;
  const completionTokens = options.completionTokens ?? 1;
  const toolCalls = options.toolCalls;
  return {
    id: options.id,
    object: "chat.completion",
    created: 1,
    model: "gpt-4o",
    choices: [
      {
        index: 0,
        message: { role: "assistant", content: options.content ?? null, ...(toolCalls !== undefined ? { tool_calls: toolCalls } : {}) },
        finish_reason: toolCalls !== undefined ? "tool_calls" : "stop",
      },
    ],
    usage: { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens },
  };
}
