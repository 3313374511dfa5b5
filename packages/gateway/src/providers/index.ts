// The bridged LLM APIs by route.

import type { BridgedApi } from "../routes.js";
import { anthropicMessagesApi } from "./anthropic-messages.js";
import { openaiChatApi } from "./openai-chat.js";
import { openaiResponsesApi } from "./openai-responses.js";
import type { ProviderApi } from "./provider-api.js";

export const PROVIDER_APIS: Readonly<Record<BridgedApi, ProviderApi>> = Object.freeze({
  "openai-chat": openaiChatApi,
  "openai-responses": openaiResponsesApi,
  "anthropic-messages": anthropicMessagesApi,
});

export { anthropicMessagesApi, anthropicTokenUsage, mergeAnthropicUsage } from "./anthropic-messages.js";
export { openaiChatApi, chatTokenUsage } from "./openai-chat.js";
export { anthropicErrorBody, openaiErrorBody } from "./error-envelope.js";
export { openaiResponsesApi, responsesTokenUsage } from "./openai-responses.js";
export type { Observation, ParsedRequest, ProviderApi, StreamObserver, Thought, TokenUsage, ToolCall } from "./provider-api.js";
