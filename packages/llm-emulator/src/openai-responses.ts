import type { Controls } from './controls.js';
import { newId } from './ids.js';
import { asObject, asString } from './json.js';
import type { JsonObject } from './json.js';
import { jsonReply } from './reply.js';
import type { Reply } from './reply.js';
import {
  REASONING_SUMMARY,
  REASONING_SUMMARY_DELTAS,
  TOOL_CALL_ARGUMENTS,
  TOOL_CALL_ARGUMENT_DELTAS,
  textDeltas,
} from './scenario.js';
import { sseEvent } from './sse.js';
import { openaiResponsesUsage } from './usage.js';

/** Function the emulated model calls via the Responses API, or undefined for a text answer. */
export function responsesToolName(body: JsonObject): string | undefined {
  const tools = body.tools;
  if (!Array.isArray(tools) || tools.length === 0) return undefined;
  const choice = body.tool_choice;
  if (choice === 'none') return undefined;
  const forced = asString(asObject(choice)?.name);
  if (forced !== undefined) return forced;
  const first = asObject(tools[0]);
  return asString(first?.name) ?? asString(first?.type) ?? 'tool';
}

interface Plan {
  readonly id: string;
  readonly createdAt: number;
  readonly model: string;
  readonly body: JsonObject;
  readonly reasoning: boolean;
  readonly reasoningId: string | undefined;
  readonly toolName: string | undefined;
  readonly itemId: string;
  readonly callId: string | undefined;
  readonly deltas: readonly string[];
  readonly controls: Controls;
}

/** POST /openai/v1/responses */
export function createResponse(body: JsonObject, model: string, controls: Controls): Reply {
  const reasoning = body.reasoning !== undefined && body.reasoning !== null;
  const toolName = responsesToolName(body);
  const plan: Plan = {
    id: newId('resp_'),
    createdAt: Math.floor(Date.now() / 1000),
    model,
    body,
    reasoning,
    reasoningId: reasoning ? newId('rs_') : undefined,
    toolName,
    itemId: toolName === undefined ? newId('msg_') : newId('fc_'),
    callId: toolName === undefined ? undefined : newId('call_'),
    deltas: textDeltas(controls.events),
    controls,
  };
  if (body.stream === true) return { kind: 'sse', events: responseStream(plan) };
  return jsonReply(responseObject(plan, 'completed', completedOutput(plan)));
}

function responseObject(p: Plan, status: 'in_progress' | 'completed', output: readonly JsonObject[]): JsonObject {
  const b = p.body;
  const reasoning = asObject(b.reasoning);
  return {
    id: p.id,
    object: 'response',
    created_at: p.createdAt,
    status,
    background: false,
    error: null,
    incomplete_details: null,
    instructions: b.instructions ?? null,
    max_output_tokens: b.max_output_tokens ?? null,
    max_tool_calls: null,
    model: p.model,
    output,
    parallel_tool_calls: b.parallel_tool_calls ?? true,
    previous_response_id: b.previous_response_id ?? null,
    reasoning: { effort: reasoning?.effort ?? null, summary: reasoning?.summary ?? null },
    service_tier: 'default',
    store: b.store ?? true,
    temperature: b.temperature ?? 1,
    text: b.text ?? { format: { type: 'text' }, verbosity: 'medium' },
    tool_choice: b.tool_choice ?? 'auto',
    tools: b.tools ?? [],
    top_logprobs: 0,
    top_p: b.top_p ?? 1,
    truncation: b.truncation ?? 'disabled',
    usage: status === 'completed' ? openaiResponsesUsage(p.controls.usage, p.reasoning) : null,
    user: null,
    metadata: b.metadata ?? {},
  };
}

function reasoningItem(p: Plan, done: boolean): JsonObject {
  return {
    id: p.reasoningId,
    type: 'reasoning',
    summary: done ? [{ type: 'summary_text', text: REASONING_SUMMARY }] : [],
  };
}

function outputText(text: string): JsonObject {
  return { type: 'output_text', text, annotations: [], logprobs: [] };
}

function messageItem(p: Plan, done: boolean): JsonObject {
  return {
    id: p.itemId,
    type: 'message',
    status: done ? 'completed' : 'in_progress',
    role: 'assistant',
    content: done ? [outputText(p.deltas.join(''))] : [],
  };
}

function functionCallItem(p: Plan, done: boolean): JsonObject {
  return {
    id: p.itemId,
    type: 'function_call',
    status: done ? 'completed' : 'in_progress',
    arguments: done ? TOOL_CALL_ARGUMENTS : '',
    call_id: p.callId,
    name: p.toolName,
  };
}

function completedOutput(p: Plan): JsonObject[] {
  const output: JsonObject[] = [];
  if (p.reasoning) output.push(reasoningItem(p, true));
  output.push(p.toolName === undefined ? messageItem(p, true) : functionCallItem(p, true));
  return output;
}

function responseStream(p: Plan): string[] {
  const events: string[] = [];
  let seq = 0;
  const emit = (type: string, fields: JsonObject): void => {
    events.push(sseEvent(type, { type, sequence_number: seq++, ...fields }));
  };

  emit('response.created', { response: responseObject(p, 'in_progress', []) });
  emit('response.in_progress', { response: responseObject(p, 'in_progress', []) });

  let outputIndex = 0;
  if (p.reasoning) {
    const item_id = p.reasoningId;
    const output_index = outputIndex++;
    emit('response.output_item.added', { output_index, item: reasoningItem(p, false) });
    emit('response.reasoning_summary_part.added', {
      item_id,
      output_index,
      summary_index: 0,
      part: { type: 'summary_text', text: '' },
    });
    for (const delta of REASONING_SUMMARY_DELTAS) {
      emit('response.reasoning_summary_text.delta', { item_id, output_index, summary_index: 0, delta });
    }
    emit('response.reasoning_summary_text.done', { item_id, output_index, summary_index: 0, text: REASONING_SUMMARY });
    emit('response.reasoning_summary_part.done', {
      item_id,
      output_index,
      summary_index: 0,
      part: { type: 'summary_text', text: REASONING_SUMMARY },
    });
    emit('response.output_item.done', { output_index, item: reasoningItem(p, true) });
  }

  const item_id = p.itemId;
  const output_index = outputIndex;
  if (p.toolName === undefined) {
    const text = p.deltas.join('');
    emit('response.output_item.added', { output_index, item: messageItem(p, false) });
    emit('response.content_part.added', { item_id, output_index, content_index: 0, part: outputText('') });
    for (const delta of p.deltas) {
      emit('response.output_text.delta', { item_id, output_index, content_index: 0, delta, logprobs: [] });
    }
    emit('response.output_text.done', { item_id, output_index, content_index: 0, text, logprobs: [] });
    emit('response.content_part.done', { item_id, output_index, content_index: 0, part: outputText(text) });
    emit('response.output_item.done', { output_index, item: messageItem(p, true) });
  } else {
    emit('response.output_item.added', { output_index, item: functionCallItem(p, false) });
    for (const delta of TOOL_CALL_ARGUMENT_DELTAS) {
      emit('response.function_call_arguments.delta', { item_id, output_index, delta });
    }
    emit('response.function_call_arguments.done', {
      item_id,
      output_index,
      name: p.toolName,
      arguments: TOOL_CALL_ARGUMENTS,
    });
    emit('response.output_item.done', { output_index, item: functionCallItem(p, true) });
  }

  emit('response.completed', { response: responseObject(p, 'completed', completedOutput(p)) });
  return events;
}
