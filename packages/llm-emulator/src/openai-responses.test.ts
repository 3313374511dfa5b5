import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { OpenAI } from 'openai';
import type { FunctionTool, ResponseStreamEvent } from 'openai/resources/responses/responses';
import { DEFAULT_TEXT, REASONING_SUMMARY, TOOL_CALL_ARGUMENTS, createLlmEmulator } from './index.js';

const usage = (reasoningTokens: number): unknown => ({
  input_tokens: 200,
  input_tokens_details: { cached_tokens: 80 },
  output_tokens: 35,
  output_tokens_details: { reasoning_tokens: reasoningTokens },
  total_tokens: 235,
});

const WEATHER_TOOL: FunctionTool = {
  type: 'function',
  name: 'get_weather',
  description: 'Current weather',
  parameters: { type: 'object', properties: { location: { type: 'string' } }, required: ['location'] },
  strict: false,
};

describe('openai responses', () => {
  const emu = createLlmEmulator();
  let client: OpenAI;

  before(async () => {
    await emu.start();
    client = new OpenAI({ baseURL: emu.openaiBaseUrl, apiKey: 'sk-test', maxRetries: 0 });
  });
  after(() => emu.shutdown());

  test('blocking text answer', async () => {
    const res = await client.responses.create({ model: 'gpt-4.1', input: 'Hi' });
    assert.match(res.id, /^resp_/);
    assert.equal(res.object, 'response');
    assert.equal(res.status, 'completed');
    assert.equal(res.model, 'gpt-4.1');
    assert.equal(res.output_text, DEFAULT_TEXT);
    assert.equal(res.output.length, 1);
    const item = res.output[0];
    if (item?.type !== 'message') assert.fail('expected a message item');
    assert.match(item.id, /^msg_/);
    assert.deepEqual(item.content, [{ type: 'output_text', text: DEFAULT_TEXT, annotations: [], logprobs: [] }]);
    assert.deepEqual(res.usage, usage(0));
  });

  test('streaming text: event order, sequence numbers, final response', async () => {
    const stream = client.responses.stream({ model: 'gpt-4.1', input: 'Hi' });
    const events: ResponseStreamEvent[] = [];
    stream.on('event', (e) => events.push(e));
    const final = await stream.finalResponse();

    assert.deepEqual(
      events.map((e) => e.type),
      [
        'response.created',
        'response.in_progress',
        'response.output_item.added',
        'response.content_part.added',
        'response.output_text.delta',
        'response.output_text.delta',
        'response.output_text.delta',
        'response.output_text.done',
        'response.content_part.done',
        'response.output_item.done',
        'response.completed',
      ],
    );
    assert.deepEqual(
      events.map((e) => e.sequence_number),
      events.map((_, i) => i),
    );
    assert.equal(final.output_text, DEFAULT_TEXT);
    assert.deepEqual(final.usage, usage(0));
    assert.equal(final.model, 'gpt-4.1');
  });

  test('create({stream: true}) yields the text deltas', async () => {
    const stream = await client.responses.create({ model: 'gpt-4.1', input: 'Hi', stream: true });
    const deltas: string[] = [];
    let completedUsage: unknown;
    for await (const event of stream) {
      if (event.type === 'response.output_text.delta') deltas.push(event.delta);
      if (event.type === 'response.completed') completedUsage = event.response.usage;
    }
    assert.deepEqual(deltas, ['Hello', ' from', ' the emulator']);
    assert.deepEqual(completedUsage, usage(0));
  });

  test('blocking function call', async () => {
    const res = await client.responses.create({ model: 'gpt-4.1', input: 'Weather?', tools: [WEATHER_TOOL] });
    assert.equal(res.output.length, 1);
    const item = res.output[0];
    if (item?.type !== 'function_call') assert.fail('expected a function_call item');
    assert.equal(item.name, 'get_weather');
    assert.equal(item.arguments, TOOL_CALL_ARGUMENTS);
    assert.deepEqual(JSON.parse(item.arguments), { location: 'Paris' });
    assert.equal(item.status, 'completed');
    assert.match(item.id ?? '', /^fc_/);
    assert.match(item.call_id, /^call_/);
    assert.deepEqual(res.usage, usage(0));
  });

  test('streamed function call', async () => {
    const stream = client.responses.stream({ model: 'gpt-4.1', input: 'Weather?', tools: [WEATHER_TOOL] });
    const types: string[] = [];
    stream.on('event', (e) => types.push(e.type));
    const final = await stream.finalResponse();
    assert.deepEqual(types.slice(2, 4), ['response.output_item.added', 'response.function_call_arguments.delta']);
    assert.ok(types.filter((t) => t === 'response.function_call_arguments.delta').length >= 2);
    assert.deepEqual(types.slice(-4), [
      'response.function_call_arguments.delta',
      'response.function_call_arguments.done',
      'response.output_item.done',
      'response.completed',
    ]);
    const item = final.output[0];
    if (item?.type !== 'function_call') assert.fail('expected a function_call item');
    assert.equal(item.name, 'get_weather');
    assert.deepEqual(JSON.parse(item.arguments), { location: 'Paris' });
    assert.equal(item.status, 'completed');
  });

  test('blocking reasoning: summary item first, reasoning tokens counted', async () => {
    const res = await client.responses.create({
      model: 'o3-mini',
      input: 'Hi',
      reasoning: { effort: 'low', summary: 'auto' },
    });
    assert.equal(res.output.length, 2);
    const reasoning = res.output[0];
    if (reasoning?.type !== 'reasoning') assert.fail('expected a reasoning item');
    assert.match(reasoning.id, /^rs_/);
    assert.deepEqual(reasoning.summary, [{ type: 'summary_text', text: REASONING_SUMMARY }]);
    assert.equal(res.output[1]?.type, 'message');
    assert.equal(res.output_text, DEFAULT_TEXT);
    assert.deepEqual(res.usage, usage(10));
  });

  test('streamed reasoning summary', async () => {
    const stream = client.responses.stream({ model: 'o3-mini', input: 'Hi', reasoning: { effort: 'low' } });
    const types: string[] = [];
    const summaryDeltas: string[] = [];
    stream.on('event', (e) => {
      types.push(e.type);
      if (e.type === 'response.reasoning_summary_text.delta') summaryDeltas.push(e.delta);
    });
    const final = await stream.finalResponse();
    assert.deepEqual(types.slice(2, 5), [
      'response.output_item.added',
      'response.reasoning_summary_part.added',
      'response.reasoning_summary_text.delta',
    ]);
    const afterDeltas = types.indexOf('response.reasoning_summary_text.done');
    assert.deepEqual(types.slice(afterDeltas, afterDeltas + 3), [
      'response.reasoning_summary_text.done',
      'response.reasoning_summary_part.done',
      'response.output_item.done',
    ]);
    assert.ok(summaryDeltas.length >= 2);
    assert.equal(summaryDeltas.join(''), REASONING_SUMMARY);
    const reasoning = final.output[0];
    if (reasoning?.type !== 'reasoning') assert.fail('expected a reasoning item');
    assert.deepEqual(reasoning.summary, [{ type: 'summary_text', text: REASONING_SUMMARY }]);
    assert.equal(final.output_text, DEFAULT_TEXT);
    assert.deepEqual(final.usage, usage(10));
  });
});
