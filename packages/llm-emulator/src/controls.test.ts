import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { Anthropic } from '@anthropic-ai/sdk';
import { OpenAI } from 'openai';
import {
  DEFAULT_CONTROLS,
  DEFAULT_TEXT,
  DEFAULT_USAGE,
  createLlmEmulator,
  emulatedErrorMessage,
  emulatorText,
  parseControls,
  parseUsage,
  textDeltas,
} from './index.js';
import type { ReceivedRequest } from './index.js';

describe('control parsing', () => {
  test('no controls returns the shared defaults', () => {
    assert.equal(parseControls({}, 'gpt-4o'), DEFAULT_CONTROLS);
    assert.deepEqual(DEFAULT_CONTROLS, {
      ttfbMs: 0,
      eventDelayMs: 0,
      events: 3,
      status: undefined,
      disconnectAfter: undefined,
      usage: { input: 120, output: 35, cacheRead: 80, cacheWrite: 40, reasoning: 10 },
    });
  });

  test('headers', () => {
    const c = parseControls(
      {
        'x-emulator-ttfb-ms': '25',
        'x-emulator-event-delay-ms': '10',
        'x-emulator-events': '7',
        'x-emulator-status': '503',
        'x-emulator-disconnect-after': '2',
        'x-emulator-usage': 'output=2,reasoning=1',
      },
      undefined,
    );
    assert.deepEqual(c, {
      ttfbMs: 25,
      eventDelayMs: 10,
      events: 7,
      status: 503,
      disconnectAfter: 2,
      usage: { ...DEFAULT_USAGE, output: 2, reasoning: 1 },
    });
  });

  test('invalid values are ignored', () => {
    const c = parseControls(
      { 'x-emulator-events': 'abc', 'x-emulator-status': '200', 'x-emulator-ttfb-ms': '-5', 'x-emulator-usage': 'input=x,bogus=3' },
      undefined,
    );
    assert.equal(c.events, 3);
    assert.equal(c.status, undefined);
    assert.equal(c.ttfbMs, 0);
    assert.deepEqual(c.usage, DEFAULT_USAGE);
  });

  test('model suffix, overridden by headers', () => {
    const c = parseControls({ 'x-emulator-events': '2' }, 'claude@delay=100,events=5,status=429,input=9');
    assert.equal(c.eventDelayMs, 100);
    assert.equal(c.events, 2);
    assert.equal(c.status, 429);
    assert.equal(c.usage.input, 9);
    // Vertex-style version suffixes are model names, not controls.
    assert.equal(parseControls({}, 'claude-3-5-sonnet@20240620'), DEFAULT_CONTROLS);
  });

  test('usage spec subset', () => {
    assert.deepEqual(parseUsage('input=1,output=2,cacheRead=3,cacheWrite=4,reasoning=5'), {
      input: 1,
      output: 2,
      cacheRead: 3,
      cacheWrite: 4,
      reasoning: 5,
    });
    assert.deepEqual(parseUsage('cacheWrite=0'), { ...DEFAULT_USAGE, cacheWrite: 0 });
  });

  test('text deltas', () => {
    assert.deepEqual(textDeltas(), ['Hello', ' from', ' the emulator']);
    assert.deepEqual(textDeltas(1), [DEFAULT_TEXT]);
    assert.deepEqual(textDeltas(4), ['Hello', ' from', ' the', ' emulator']);
    assert.equal(emulatorText(), DEFAULT_TEXT);
    assert.equal(emulatorText(2), DEFAULT_TEXT);
    assert.equal(emulatorText(9), 'Hello from the emulator Hello from the emulator Hello');
    assert.equal(textDeltas(9).length, 9);
  });
});

/** Reads an SSE body, noting when each complete frame arrived. */
async function readFrames(res: Response): Promise<{ frame: string; at: number }[]> {
  const frames: { frame: string; at: number }[] = [];
  const decoder = new TextDecoder();
  let buffer = '';
  const body = res.body;
  if (body === null) throw new Error('no body');
  for await (const chunk of body) {
    buffer += decoder.decode(chunk as Uint8Array, { stream: true });
    let end = buffer.indexOf('\n\n');
    while (end >= 0) {
      frames.push({ frame: buffer.slice(0, end), at: performance.now() });
      buffer = buffer.slice(end + 2);
      end = buffer.indexOf('\n\n');
    }
  }
  return frames;
}

async function until(check: () => boolean, timeoutMs = 2_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(5);
  }
}

describe('per-request controls over HTTP', () => {
  const emu = createLlmEmulator();
  let openai: OpenAI;
  let anthropic: Anthropic;
  const chatBody = JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }], stream: true });
  const base = { model: 'claude-haiku-4-5', max_tokens: 64, messages: [{ role: 'user' as const, content: 'Hi' }] };

  before(async () => {
    await emu.start();
    openai = new OpenAI({ baseURL: emu.openaiBaseUrl, apiKey: 'sk-test', maxRetries: 0 });
    anthropic = new Anthropic({ baseURL: emu.anthropicBaseUrl, apiKey: 'sk-ant-test', maxRetries: 0 });
  });
  after(() => emu.shutdown());

  test('status 429 is an OpenAI RateLimitError with the provider message', async () => {
    await assert.rejects(
      openai.chat.completions.create(
        { model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }] },
        { headers: { 'x-emulator-status': '429' } },
      ),
      (err: unknown) => {
        assert.ok(err instanceof OpenAI.RateLimitError);
        assert.equal(err.status, 429);
        assert.equal(err.message, `429 ${emulatedErrorMessage(429)}`);
        assert.equal(err.type, 'requests');
        assert.equal(err.code, 'rate_limit_exceeded');
        assert.equal(err.param, null);
        assert.equal(err.headers?.get('retry-after'), '1');
        return true;
      },
    );
  });

  test('status 429 is an Anthropic RateLimitError with the provider shape', async () => {
    await assert.rejects(
      anthropic.messages.create(base, { headers: { 'x-emulator-status': '429' } }),
      (err: unknown) => {
        assert.ok(err instanceof Anthropic.RateLimitError);
        assert.equal(err.status, 429);
        assert.deepEqual(err.error, {
          type: 'error',
          error: { type: 'rate_limit_error', message: emulatedErrorMessage(429) },
        });
        assert.equal(err.headers?.get('retry-after'), '1');
        return true;
      },
    );
  });

  test('other statuses map to the SDK error classes, also via model suffix', async () => {
    await assert.rejects(
      anthropic.messages.create(base, { headers: { 'x-emulator-status': '529' } }),
      (err: unknown) => err instanceof Anthropic.OverloadedError && err.type === 'overloaded_error',
    );
    await assert.rejects(
      anthropic.messages.stream(base, { headers: { 'x-emulator-status': '500' } }).finalMessage(),
      (err: unknown) => err instanceof Anthropic.InternalServerError && err.type === 'api_error',
    );
    await assert.rejects(
      openai.responses.create({ model: 'gpt-4o@status=500', input: 'Hi' }),
      (err: unknown) => err instanceof OpenAI.InternalServerError && err.type === 'server_error',
    );
    await assert.rejects(
      openai.chat.completions.create(
        { model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }] },
        { headers: { 'x-emulator-status': '400' } },
      ),
      (err: unknown) => err instanceof OpenAI.BadRequestError && err.type === 'invalid_request_error',
    );
  });

  test('disconnect-after makes the OpenAI stream throw', async () => {
    emu.clearRequests();
    const stream = await openai.chat.completions.create(
      { model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }], stream: true },
      { headers: { 'x-emulator-disconnect-after': '2' } },
    );
    let chunks = 0;
    await assert.rejects(async () => {
      for await (const _chunk of stream) chunks += 1;
    });
    assert.ok(chunks <= 2, `got ${chunks} chunks`);
    const [seen] = emu.requests;
    assert.equal(seen?.finished, false);
    assert.equal(seen?.aborted, false);
  });

  test('disconnect-after makes the Anthropic stream helper throw', async () => {
    await assert.rejects(
      anthropic.messages.stream(base, { headers: { 'x-emulator-disconnect-after': '3' } }).finalMessage(),
    );
    await assert.rejects(
      anthropic.messages.stream(base, { headers: { 'x-emulator-disconnect-after': '0' } }).finalMessage(),
    );
  });

  test('disconnect-after on a blocking request closes without a response', async () => {
    await assert.rejects(
      openai.chat.completions.create(
        { model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }] },
        { headers: { 'x-emulator-disconnect-after': '0' } },
      ),
      (err: unknown) => err instanceof OpenAI.APIConnectionError,
    );
  });

  test('disconnect-after with a delay delivers exactly N events first', async () => {
    const res = await fetch(`${emu.openaiBaseUrl}/chat/completions`, {
      method: 'POST',
      headers: {
        authorization: 'Bearer sk-test',
        'content-type': 'application/json',
        'x-emulator-disconnect-after': '2',
        'x-emulator-event-delay-ms': '30',
      },
      body: chatBody,
    });
    assert.equal(res.status, 200);
    const frames: string[] = [];
    const decoder = new TextDecoder();
    let text = '';
    await assert.rejects(async () => {
      for await (const chunk of res.body ?? []) {
        text += decoder.decode(chunk as Uint8Array, { stream: true });
        frames.splice(0, frames.length, ...text.split('\n\n').filter((f) => f !== ''));
      }
    });
    assert.equal(frames.length, 2);
  });

  test('event delay of 100 ms spaces the events', async () => {
    const sent = performance.now();
    const res = await fetch(`${emu.openaiBaseUrl}/chat/completions`, {
      method: 'POST',
      headers: {
        authorization: 'Bearer sk-test',
        'content-type': 'application/json',
        'x-emulator-event-delay-ms': '100',
      },
      body: chatBody,
    });
    assert.equal(res.headers.get('content-type'), 'text/event-stream');
    assert.equal(res.headers.get('cache-control'), 'no-cache');
    const frames = await readFrames(res);
    assert.equal(frames.length, 6);
    assert.equal(frames.at(-1)?.frame, 'data: [DONE]');
    // Event i is written no sooner than i delays after the request arrived, which is after it
    // was sent; a late client can only make this wider, so a busy machine cannot trip it (the
    // 1 ms per event allows for timers firing on the millisecond-rounded loop clock).
    for (const [i, frame] of frames.entries()) {
      const at = frame.at - sent;
      assert.ok(at >= i * 99, `event ${i} arrived ${at.toFixed(1)} ms after the request`);
    }
  });

  test('ttfb delays the response headers', async () => {
    const started = performance.now();
    const res = await fetch(`${emu.anthropicBaseUrl}/v1/messages`, {
      method: 'POST',
      headers: { 'x-api-key': 'k', 'content-type': 'application/json', 'x-emulator-ttfb-ms': '150' },
      body: JSON.stringify(base),
    });
    const elapsed = performance.now() - started;
    assert.equal(res.status, 200);
    assert.ok(elapsed >= 140, `headers after ${elapsed.toFixed(1)} ms`);
    const json = (await res.json()) as { content: unknown };
    assert.deepEqual(json.content, [{ type: 'text', text: DEFAULT_TEXT }]);
  });

  test('a client abort during TTFB marks the request aborted', async () => {
    emu.clearRequests();
    const controller = new AbortController();
    const pending = openai.chat.completions.create(
      { model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }] },
      { headers: { 'x-emulator-ttfb-ms': '5000' }, signal: controller.signal },
    );
    const [seen] = await emu.waitForRequests(1, 2_000);
    controller.abort();
    await assert.rejects(pending, (err: unknown) => err instanceof OpenAI.APIUserAbortError);
    await until(() => seen?.aborted === true);
    assert.equal(seen?.finished, false);
  });

  test('a client abort mid-stream marks the request aborted and stops the stream', async () => {
    emu.clearRequests();
    const controller = new AbortController();
    const stream = anthropic.messages.stream(base, {
      headers: { 'x-emulator-event-delay-ms': '200' },
      signal: controller.signal,
    });
    await new Promise<void>((resolve) => stream.once('streamEvent', () => resolve()));
    controller.abort();
    await assert.rejects(stream.finalMessage());
    const seen: ReceivedRequest | undefined = emu.requests[0];
    await until(() => seen?.aborted === true);
    assert.equal(seen?.finished, false);
  });
});
