import type { Controls } from './controls.js';
import { newId } from './ids.js';
import { asObject, asString } from './json.js';
import type { JsonObject } from './json.js';
import { jsonReply } from './reply.js';
import type { Reply } from './reply.js';
import { TOOL_CALL_ARGUMENTS, TOOL_CALL_ARGUMENT_DELTAS, textDeltas } from './scenario.js';
import { SSE_DONE, sseData } from './sse.js';
import { openaiChatUsage } from './usage.js';

const SYSTEM_FINGERPRINT = 'fp_emulator';

/**
 * Name of the function the emulated model calls: the first tool, or the one
 * forced by `tool_choice`; undefined when there are no tools or tool_choice is "none".
 */
export function chatToolName(body: JsonObject): string | undefined {
  const tools = body.tools;
  if (!Array.isArray(tools) || tools.length === 0) return undefined;
  const choice = body.tool_choice;
  if (choice === 'none') return undefined;
  const forced = asString(asObject(asObject(choice)?.function)?.name);
  if (forced !== undefined) return forced;
  const first = asObject(tools[0]);
  return asString(asObject(first?.function)?.name) ?? asString(asObject(first?.custom)?.name) ?? 'tool';
}

/** POST /openai/v1/chat/completions */
export function chatCompletion(body: JsonObject, model: string, controls: Controls): Reply {
  const id = newId('chatcmpl-');
  const created = Math.floor(Date.now() / 1000);
  const toolName = chatToolName(body);
  const callId = toolName === undefined ? undefined : newId('call_');

  if (body.stream === true) {
    const includeUsage = asObject(body.stream_options)?.include_usage === true;
    return { kind: 'sse', events: chatStream(id, created, model, controls, toolName, callId, includeUsage) };
  }

  const message: JsonObject =
    toolName === undefined || callId === undefined
      ? { role: 'assistant', content: textDeltas(controls.events).join(''), refusal: null, annotations: [] }
      : {
          role: 'assistant',
          content: null,
          tool_calls: [{ id: callId, type: 'function', function: { name: toolName, arguments: TOOL_CALL_ARGUMENTS } }],
          refusal: null,
          annotations: [],
        };
  return jsonReply({
    id,
    object: 'chat.completion',
    created,
    model,
    choices: [
      { index: 0, message, logprobs: null, finish_reason: toolName === undefined ? 'stop' : 'tool_calls' },
    ],
    usage: openaiChatUsage(controls.usage),
    service_tier: 'default',
    system_fingerprint: SYSTEM_FINGERPRINT,
  });
}

function chatStream(
  id: string,
  created: number,
  model: string,
  controls: Controls,
  toolName: string | undefined,
  callId: string | undefined,
  includeUsage: boolean,
): string[] {
  // Chunks share everything but `choices` (and the final usage), so render the
  // envelope once and splice the varying part in.
  const head = `{"id":${JSON.stringify(id)},"object":"chat.completion.chunk","created":${created},"model":${JSON.stringify(model)},"service_tier":"default","system_fingerprint":"${SYSTEM_FINGERPRINT}","choices":`;
  const tail = includeUsage ? ',"usage":null}' : '}';
  const chunk = (delta: JsonObject, finishReason: string | null): string =>
    `data: ${head}[${JSON.stringify({ index: 0, delta, logprobs: null, finish_reason: finishReason })}]${tail}\n\n`;

  const events: string[] = [];
  if (toolName === undefined || callId === undefined) {
    events.push(chunk({ role: 'assistant', content: '', refusal: null }, null));
    for (const piece of textDeltas(controls.events)) events.push(chunk({ content: piece }, null));
    events.push(chunk({}, 'stop'));
  } else {
    events.push(
      chunk(
        {
          role: 'assistant',
          content: null,
          tool_calls: [{ index: 0, id: callId, type: 'function', function: { name: toolName, arguments: '' } }],
          refusal: null,
        },
        null,
      ),
    );
    for (const piece of TOOL_CALL_ARGUMENT_DELTAS) {
      events.push(chunk({ tool_calls: [{ index: 0, function: { arguments: piece } }] }, null));
    }
    events.push(chunk({}, 'tool_calls'));
  }
  if (includeUsage) {
    events.push(
      sseData({
        id,
        object: 'chat.completion.chunk',
        created,
        model,
        service_tier: 'default',
        system_fingerprint: SYSTEM_FINGERPRINT,
        choices: [],
        usage: openaiChatUsage(controls.usage),
      }),
    );
  }
  events.push(SSE_DONE);
  return events;
}
