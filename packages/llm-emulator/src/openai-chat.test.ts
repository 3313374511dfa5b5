import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { OpenAI } from 'openai';
import type { ChatCompletionChunk, ChatCompletionTool } from 'openai/resources/chat/completions';
import { DEFAULT_TEXT, TOOL_CALL_ARGUMENTS, createLlmEmulator, emulatorText } from './index.js';

const EXPECTED_USAGE = {
  prompt_tokens: 200,
  completion_tokens: 35,
  total_tokens: 235,
  prompt_tokens_details: { cached_tokens: 80, audio_tokens: 0 },
  completion_tokens_details: {
    reasoning_tokens: 0,
    audio_tokens: 0,
    accepted_prediction_tokens: 0,
    rejected_prediction_tokens: 0,
  },
};

const WEATHER_TOOL: ChatCompletionTool = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Current weather',
    parameters: { type: 'object', properties: { location: { type: 'string' } }, required: ['location'] },
  },
};

const messages = [{ role: 'user' as const, content: 'Hi' }];

describe('openai chat completions', () => {
  const emu = createLlmEmulator();
  let client: OpenAI;

  before(async () => {
    await emu.start();
    client = new OpenAI({ baseURL: emu.openaiBaseUrl, apiKey: 'sk-test', maxRetries: 0 });
  });
  after(() => emu.shutdown());

  test('blocking text answer with exact usage', async () => {
    const res = await client.chat.completions.create({ model: 'gpt-4o', messages });
    assert.equal(res.object, 'chat.completion');
    assert.equal(res.model, 'gpt-4o');
    assert.match(res.id, /^chatcmpl-/);
    assert.equal(res.choices.length, 1);
    assert.equal(res.choices[0]?.message.role, 'assistant');
    assert.equal(res.choices[0]?.message.content, DEFAULT_TEXT);
    assert.equal(res.choices[0]?.message.content, 'Hello from the emulator');
    assert.equal(res.choices[0]?.finish_reason, 'stop');
    assert.deepEqual(res.usage, EXPECTED_USAGE);
  });

  test('ids are unique per request', async () => {
    const a = await client.chat.completions.create({ model: 'gpt-4o', messages });
    const b = await client.chat.completions.create({ model: 'gpt-4o', messages });
    assert.notEqual(a.id, b.id);
  });

  test('streaming with include_usage: deltas, usage-only final chunk, [DONE]', async () => {
    const stream = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages,
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks: ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);

    // role chunk + 3 text deltas + finish chunk + usage chunk
    assert.equal(chunks.length, 6);
    const last = chunks.at(-1);
    assert.deepEqual(last?.choices, []);
    assert.deepEqual(last?.usage, EXPECTED_USAGE);
    for (const chunk of chunks.slice(0, -1)) {
      assert.equal(chunk.object, 'chat.completion.chunk');
      assert.equal(chunk.usage, null);
      assert.equal(chunk.model, 'gpt-4o-mini');
      assert.equal(chunk.id, chunks[0]?.id);
    }
    const pieces = chunks.flatMap((c) => c.choices.map((ch) => ch.delta.content ?? ''));
    assert.deepEqual(pieces.filter((p) => p !== ''), ['Hello', ' from', ' the emulator']);
    assert.equal(pieces.join(''), DEFAULT_TEXT);
    assert.equal(chunks[4]?.choices[0]?.finish_reason, 'stop');
  });

  test('streaming without include_usage has no usage field at all', async () => {
    const stream = await client.chat.completions.create({ model: 'gpt-4o', messages, stream: true });
    const chunks: ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    assert.equal(chunks.length, 5);
    for (const chunk of chunks) assert.equal('usage' in chunk, false);
  });

  test('SDK stream helper assembles the final completion', async () => {
    const final = await client.chat.completions
      .stream({ model: 'gpt-4o', messages, stream_options: { include_usage: true } })
      .finalChatCompletion();
    assert.equal(final.choices[0]?.message.content, DEFAULT_TEXT);
    assert.equal(final.choices[0]?.finish_reason, 'stop');
    assert.deepEqual(final.usage, EXPECTED_USAGE);
  });

  test('x-emulator-events and x-emulator-usage headers', async () => {
    const stream = await client.chat.completions.create(
      { model: 'gpt-4o', messages, stream: true, stream_options: { include_usage: true } },
      { headers: { 'x-emulator-events': '6', 'x-emulator-usage': 'input=1,output=2,cacheRead=3' } },
    );
    const text: string[] = [];
    let usage: unknown;
    for await (const chunk of stream) {
      const piece = chunk.choices[0]?.delta.content;
      if (piece) text.push(piece);
      if (chunk.usage) usage = chunk.usage;
    }
    assert.equal(text.length, 6);
    assert.equal(text.join(''), emulatorText(6));
    assert.equal(text.join(''), 'Hello from the emulator Hello from');
    assert.deepEqual(usage, {
      ...EXPECTED_USAGE,
      prompt_tokens: 4,
      completion_tokens: 2,
      total_tokens: 6,
      prompt_tokens_details: { cached_tokens: 3, audio_tokens: 0 },
    });
  });

  test('blocking tool call', async () => {
    const res = await client.chat.completions.create({ model: 'gpt-4o', messages, tools: [WEATHER_TOOL] });
    const choice = res.choices[0];
    assert.equal(choice?.finish_reason, 'tool_calls');
    assert.equal(choice?.message.content, null);
    const call = choice?.message.tool_calls?.[0];
    assert.equal(choice?.message.tool_calls?.length, 1);
    assert.equal(call?.type, 'function');
    assert.match(call?.id ?? '', /^call_/);
    if (call?.type !== 'function') assert.fail('expected a function tool call');
    assert.equal(call.function.name, 'get_weather');
    assert.equal(call.function.arguments, TOOL_CALL_ARGUMENTS);
    assert.deepEqual(JSON.parse(call.function.arguments), { location: 'Paris' });
    assert.deepEqual(res.usage, EXPECTED_USAGE);
  });

  test('streamed tool call: arguments over several deltas, SDK accumulates them', async () => {
    const stream = client.chat.completions.stream({
      model: 'gpt-4o',
      messages,
      tools: [WEATHER_TOOL, { ...WEATHER_TOOL, function: { name: 'other_tool' } }],
      stream_options: { include_usage: true },
    });
    let argumentDeltas = 0;
    stream.on('chunk', (chunk) => {
      const args = chunk.choices[0]?.delta.tool_calls?.[0]?.function?.arguments;
      if (args) argumentDeltas += 1;
    });
    const final = await stream.finalChatCompletion();
    assert.ok(argumentDeltas >= 2, `expected >= 2 argument deltas, got ${argumentDeltas}`);
    const choice = final.choices[0];
    assert.equal(choice?.finish_reason, 'tool_calls');
    const call = choice?.message.tool_calls?.[0];
    if (call?.type !== 'function') assert.fail('expected a function tool call');
    assert.equal(call.function.name, 'get_weather');
    assert.deepEqual(JSON.parse(call.function.arguments), { location: 'Paris' });
    assert.match(call.id, /^call_/);
    assert.deepEqual(final.usage, EXPECTED_USAGE);
  });

  test('tool_choice "none" answers with text; a forced function is honoured', async () => {
    const none = await client.chat.completions.create({
      model: 'gpt-4o',
      messages,
      tools: [WEATHER_TOOL],
      tool_choice: 'none',
    });
    assert.equal(none.choices[0]?.message.content, DEFAULT_TEXT);
    assert.equal(none.choices[0]?.finish_reason, 'stop');

    const forced = await client.chat.completions.create({
      model: 'gpt-4o',
      messages,
      tools: [WEATHER_TOOL, { ...WEATHER_TOOL, function: { name: 'lookup' } }],
      tool_choice: { type: 'function', function: { name: 'lookup' } },
    });
    const call = forced.choices[0]?.message.tool_calls?.[0];
    if (call?.type !== 'function') assert.fail('expected a function tool call');
    assert.equal(call.function.name, 'lookup');
  });
});
