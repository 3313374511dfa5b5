import type { Controls } from './controls.js';
import { newId } from './ids.js';
import { asObject, asString } from './json.js';
import type { JsonObject } from './json.js';
import { jsonReply } from './reply.js';
import type { Reply } from './reply.js';
import {
  THINKING_DELTAS,
  THINKING_SIGNATURE,
  THINKING_TEXT,
  TOOL_CALL_ARGUMENT_DELTAS,
  TOOL_CALL_INPUT,
  textDeltas,
} from './scenario.js';
import { sseEvent } from './sse.js';
import { anthropicUsage, promptTokenCount } from './usage.js';

/** Tool the emulated model uses: the first one, or the one forced by tool_choice; undefined for "none". */
export function anthropicToolName(body: JsonObject): string | undefined {
  const tools = body.tools;
  if (!Array.isArray(tools) || tools.length === 0) return undefined;
  const choice = asObject(body.tool_choice);
  if (choice?.type === 'none') return undefined;
  if (choice?.type === 'tool') {
    const forced = asString(choice.name);
    if (forced !== undefined) return forced;
  }
  return asString(asObject(tools[0])?.name) ?? 'tool';
}

export function thinkingEnabled(body: JsonObject): boolean {
  const type = asObject(body.thinking)?.type;
  return type === 'enabled' || type === 'adaptive';
}

/** POST /anthropic/v1/messages */
export function createMessage(body: JsonObject, model: string, controls: Controls): Reply {
  const id = newId('msg_');
  const toolName = anthropicToolName(body);
  const toolId = toolName === undefined ? undefined : newId('toolu_');
  const thinking = thinkingEnabled(body);
  const stopReason = toolName === undefined ? 'end_turn' : 'tool_use';

  if (body.stream === true) {
    return { kind: 'sse', events: messageStream(id, model, controls, thinking, toolName, toolId, stopReason) };
  }

  const content: JsonObject[] = [];
  if (thinking) content.push({ type: 'thinking', thinking: THINKING_TEXT, signature: THINKING_SIGNATURE });
  if (toolName === undefined) content.push({ type: 'text', text: textDeltas(controls.events).join('') });
  else content.push({ type: 'tool_use', id: toolId, name: toolName, input: TOOL_CALL_INPUT });

  return jsonReply({
    id,
    type: 'message',
    role: 'assistant',
    model,
    content,
    stop_reason: stopReason,
    stop_sequence: null,
    usage: anthropicUsage(controls.usage),
  });
}

function messageStream(
  id: string,
  model: string,
  controls: Controls,
  thinking: boolean,
  toolName: string | undefined,
  toolId: string | undefined,
  stopReason: string,
): string[] {
  const usage = anthropicUsage(controls.usage);
  const events: string[] = [];
  const emit = (type: string, fields: JsonObject): void => {
    events.push(sseEvent(type, { type, ...fields }));
  };

  emit('message_start', {
    message: {
      id,
      type: 'message',
      role: 'assistant',
      model,
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: {
        input_tokens: usage.input_tokens,
        cache_creation_input_tokens: usage.cache_creation_input_tokens,
        cache_read_input_tokens: usage.cache_read_input_tokens,
        output_tokens: 1,
      },
    },
  });

  let index = 0;
  let pinged = false;
  // The real API sends one ping right after the first content_block_start.
  const ping = (): void => {
    if (pinged) return;
    pinged = true;
    emit('ping', {});
  };

  if (thinking) {
    emit('content_block_start', { index, content_block: { type: 'thinking', thinking: '', signature: '' } });
    ping();
    for (const piece of THINKING_DELTAS) {
      emit('content_block_delta', { index, delta: { type: 'thinking_delta', thinking: piece } });
    }
    emit('content_block_delta', { index, delta: { type: 'signature_delta', signature: THINKING_SIGNATURE } });
    emit('content_block_stop', { index });
    index += 1;
  }

  if (toolName === undefined) {
    emit('content_block_start', { index, content_block: { type: 'text', text: '' } });
    ping();
    for (const text of textDeltas(controls.events)) {
      emit('content_block_delta', { index, delta: { type: 'text_delta', text } });
    }
  } else {
    emit('content_block_start', { index, content_block: { type: 'tool_use', id: toolId, name: toolName, input: {} } });
    ping();
    for (const partial_json of TOOL_CALL_ARGUMENT_DELTAS) {
      emit('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json } });
    }
  }
  emit('content_block_stop', { index });

  // Like the current API, message_delta repeats the cumulative input/cache counts;
  // consumers must overwrite, not add.
  emit('message_delta', {
    delta: { stop_reason: stopReason, stop_sequence: null },
    usage: {
      output_tokens: usage.output_tokens,
      input_tokens: usage.input_tokens,
      cache_creation_input_tokens: usage.cache_creation_input_tokens,
      cache_read_input_tokens: usage.cache_read_input_tokens,
    },
  });
  emit('message_stop', {});
  return events;
}

/** POST /anthropic/v1/messages/count_tokens: the whole prompt size (input + cache read + cache write). */
export function countTokens(controls: Controls): Reply {
  return jsonReply({ input_tokens: promptTokenCount(controls.usage) });
}
