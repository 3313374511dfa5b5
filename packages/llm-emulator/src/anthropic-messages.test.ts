import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Anthropic } from '@anthropic-ai/sdk';
import type { RawMessageStreamEvent, Tool } from '@anthropic-ai/sdk/resources/messages';
import { DEFAULT_TEXT, THINKING_SIGNATURE, THINKING_TEXT, createLlmEmulator } from './index.js';

const EXPECTED_USAGE = {
  input_tokens: 120,
  cache_creation_input_tokens: 40,
  cache_read_input_tokens: 80,
  output_tokens: 35,
};

const WEATHER_TOOL: Tool = {
  name: 'get_weather',
  description: 'Current weather',
  input_schema: { type: 'object', properties: { location: { type: 'string' } }, required: ['location'] },
};

const base = {
  model: 'claude-sonnet-4-5-20250929',
  max_tokens: 2048,
  messages: [{ role: 'user' as const, content: 'Hi' }],
};

describe('anthropic messages', () => {
  const emu = createLlmEmulator();
  let client: Anthropic;

  before(async () => {
    await emu.start();
    client = new Anthropic({ baseURL: emu.anthropicBaseUrl, apiKey: 'sk-ant-test', maxRetries: 0 });
  });
  after(() => emu.shutdown());

  test('blocking text answer with exact usage', async () => {
    const msg = await client.messages.create(base);
    assert.match(msg.id, /^msg_/);
    assert.equal(msg.type, 'message');
    assert.equal(msg.role, 'assistant');
    assert.equal(msg.model, base.model);
    assert.deepEqual(msg.content, [{ type: 'text', text: DEFAULT_TEXT }]);
    assert.equal(msg.stop_reason, 'end_turn');
    assert.equal(msg.stop_sequence, null);
    assert.deepEqual(msg.usage, EXPECTED_USAGE);
  });

  test('streaming: finalMessage text and usage are exact (message_delta overwrites, never adds)', async () => {
    const msg = await client.messages.stream(base).finalMessage();
    assert.equal(msg.content.length, 1);
    const block = msg.content[0];
    if (block?.type !== 'text') assert.fail('expected a text block');
    assert.equal(block.text, DEFAULT_TEXT);
    assert.equal(msg.stop_reason, 'end_turn');
    assert.deepEqual(msg.usage, EXPECTED_USAGE);
  });

  test('raw stream events follow the real API order', async () => {
    const stream = await client.messages.create({ ...base, stream: true });
    const events: RawMessageStreamEvent[] = [];
    for await (const event of stream) events.push(event);
    assert.deepEqual(
      events.map((e) => e.type),
      [
        'message_start',
        'content_block_start',
        'content_block_delta',
        'content_block_delta',
        'content_block_delta',
        'content_block_stop',
        'message_delta',
        'message_stop',
      ],
    );
    const start = events[0];
    if (start?.type !== 'message_start') assert.fail('expected message_start');
    assert.deepEqual(start.message.usage, { ...EXPECTED_USAGE, output_tokens: 1 });
    const delta = events[6];
    if (delta?.type !== 'message_delta') assert.fail('expected message_delta');
    assert.deepEqual(delta.usage, EXPECTED_USAGE);
    assert.deepEqual(delta.delta, { stop_reason: 'end_turn', stop_sequence: null });
  });

  test('blocking tool_use', async () => {
    const msg = await client.messages.create({ ...base, tools: [WEATHER_TOOL] });
    assert.equal(msg.stop_reason, 'tool_use');
    assert.equal(msg.content.length, 1);
    const block = msg.content[0];
    if (block?.type !== 'tool_use') assert.fail('expected a tool_use block');
    assert.equal(block.name, 'get_weather');
    assert.match(block.id, /^toolu_/);
    assert.deepEqual(block.input, { location: 'Paris' });
  });

  test('streamed tool_use: input_json_delta pieces are assembled by the SDK', async () => {
    const stream = client.messages.stream({ ...base, tools: [WEATHER_TOOL] });
    const partials: string[] = [];
    stream.on('streamEvent', (event) => {
      if (event.type === 'content_block_delta' && event.delta.type === 'input_json_delta') {
        partials.push(event.delta.partial_json);
      }
      if (event.type === 'content_block_start' && event.content_block.type === 'tool_use') {
        assert.deepEqual(event.content_block.input, {});
      }
    });
    const msg = await stream.finalMessage();
    assert.ok(partials.length >= 2);
    assert.equal(msg.stop_reason, 'tool_use');
    const block = msg.content[0];
    if (block?.type !== 'tool_use') assert.fail('expected a tool_use block');
    assert.equal(block.name, 'get_weather');
    assert.deepEqual(block.input, { location: 'Paris' });
    assert.deepEqual(msg.usage, EXPECTED_USAGE);
  });

  test('tool_choice none answers with text', async () => {
    const msg = await client.messages.create({ ...base, tools: [WEATHER_TOOL], tool_choice: { type: 'none' } });
    assert.deepEqual(msg.content, [{ type: 'text', text: DEFAULT_TEXT }]);
    assert.equal(msg.stop_reason, 'end_turn');
  });

  test('blocking thinking block precedes the text', async () => {
    const msg = await client.messages.create({ ...base, thinking: { type: 'enabled', budget_tokens: 1024 } });
    assert.deepEqual(msg.content, [
      { type: 'thinking', thinking: THINKING_TEXT, signature: THINKING_SIGNATURE },
      { type: 'text', text: DEFAULT_TEXT },
    ]);
  });

  test('streamed thinking: thinking_delta pieces and a signature_delta', async () => {
    const stream = client.messages.stream({ ...base, thinking: { type: 'enabled', budget_tokens: 1024 } });
    const thinking: string[] = [];
    let signatures = 0;
    stream.on('thinking', (delta) => thinking.push(delta));
    stream.on('signature', () => (signatures += 1));
    const msg = await stream.finalMessage();
    assert.ok(thinking.length >= 2);
    assert.equal(thinking.join(''), THINKING_TEXT);
    assert.equal(signatures, 1);
    const [first, second] = msg.content;
    if (first?.type !== 'thinking') assert.fail('expected a thinking block');
    assert.equal(first.thinking, THINKING_TEXT);
    assert.equal(first.signature, THINKING_SIGNATURE);
    if (second?.type !== 'text') assert.fail('expected a text block');
    assert.equal(second.text, DEFAULT_TEXT);
    assert.deepEqual(msg.usage, EXPECTED_USAGE);
  });

  test('thinking and tool use together', async () => {
    const msg = await client.messages
      .stream({ ...base, tools: [WEATHER_TOOL], thinking: { type: 'enabled', budget_tokens: 1024 } })
      .finalMessage();
    assert.deepEqual(
      msg.content.map((b) => b.type),
      ['thinking', 'tool_use'],
    );
    assert.equal(msg.stop_reason, 'tool_use');
  });

  test('x-emulator-usage overrides the streamed usage', async () => {
    const msg = await client.messages
      .stream(base, { headers: { 'x-emulator-usage': 'input=7,output=9,cacheRead=0,cacheWrite=5' } })
      .finalMessage();
    assert.deepEqual(msg.usage, {
      input_tokens: 7,
      cache_creation_input_tokens: 5,
      cache_read_input_tokens: 0,
      output_tokens: 9,
    });
  });

  test('count_tokens returns input + cache read + cache write', async () => {
    const count = await client.messages.countTokens({ model: base.model, messages: base.messages });
    assert.deepEqual(count, { input_tokens: 240 });
    const custom = await client.messages.countTokens(
      { model: base.model, messages: base.messages },
      { headers: { 'x-emulator-usage': 'input=1,cacheRead=2,cacheWrite=3' } },
    );
    assert.equal(custom.input_tokens, 6);
  });

  test('a Bearer token is accepted instead of x-api-key', async () => {
    const bearer = new Anthropic({
      baseURL: emu.anthropicBaseUrl,
      apiKey: null,
      authToken: 'oauth-token',
      maxRetries: 0,
    });
    const msg = await bearer.messages.create(base);
    assert.deepEqual(msg.content, [{ type: 'text', text: DEFAULT_TEXT }]);
    const seen = emu.requests.at(-1);
    assert.equal(seen?.headers.authorization, 'Bearer oauth-token');
    assert.equal(seen?.headers['x-api-key'], undefined);
  });
});
