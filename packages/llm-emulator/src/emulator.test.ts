import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { OpenAI } from 'openai';
import { pino } from 'pino';
import { request } from 'undici';
import { createLlmEmulator } from './index.js';
import type { LlmEmulator, ReceivedRequest } from './index.js';

async function post(url: string, body: string, headers: Record<string, string> = {}): Promise<{ status: number; json: unknown }> {
  const res = await request(url, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });
  return { status: res.statusCode, json: await res.body.json() };
}

describe('emulator server and recording', () => {
  const emu = createLlmEmulator();
  before(() => emu.start());
  after(() => emu.shutdown());

  test('urls', () => {
    assert.match(emu.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(emu.openaiBaseUrl, `${emu.url}/openai/v1`);
    assert.equal(emu.anthropicBaseUrl, `${emu.url}/anthropic`);
    assert.equal(emu.url, `http://127.0.0.1:${emu.port}`);
  });

  test('records headers (lowercased) and the JSON body as sent', async () => {
    emu.clearRequests();
    const client = new OpenAI({
      baseURL: emu.openaiBaseUrl,
      apiKey: 'sk-test',
      maxRetries: 0,
      defaultHeaders: { 'X-Custom-Trace': 'trace-123' },
    });
    const body = { model: 'gpt-4o', messages: [{ role: 'user' as const, content: 'Record me' }], temperature: 0.5 };
    await client.chat.completions.create(body);
    const [seen] = await emu.waitForRequests(1, 1_000);
    assert.equal(emu.requests.length, 1);
    assert.equal(seen?.method, 'POST');
    assert.equal(seen?.path, '/openai/v1/chat/completions');
    assert.equal(seen?.headers['x-custom-trace'], 'trace-123');
    assert.equal(seen?.headers.authorization, 'Bearer sk-test');
    assert.equal(seen?.headers['content-type'], 'application/json');
    assert.deepEqual(seen?.json, body);
    assert.equal(seen?.body, JSON.stringify(body));
    assert.equal(seen?.finished, true);
    assert.equal(seen?.aborted, false);
    assert.equal(typeof seen?.receivedAt, 'number');
  });

  test('repeated headers are joined with ", " and seq increases', async () => {
    emu.clearRequests();
    await new Promise<void>((resolve, reject) => {
      const req = httpRequest(`${emu.openaiBaseUrl}/models?x=1`, { method: 'GET' }, (res) => {
        res.resume();
        res.on('end', resolve);
      });
      req.setHeader('Authorization', 'Bearer k');
      req.setHeader('X-Multi', ['a', 'b']);
      req.on('error', reject);
      req.end();
    });
    await fetch(`${emu.openaiBaseUrl}/models`, { headers: { authorization: 'Bearer k' } });
    const [first, second] = emu.requests;
    assert.equal(first?.headers['x-multi'], 'a, b');
    assert.equal(first?.path, '/openai/v1/models?x=1');
    assert.equal(first?.body, '');
    assert.equal(first?.json, undefined);
    assert.equal((second?.seq ?? 0) - (first?.seq ?? 0), 1);
  });

  test('missing auth is a 401 in the provider shape', async () => {
    const chat = await post(`${emu.openaiBaseUrl}/chat/completions`, JSON.stringify({ model: 'gpt-4o', messages: [] }));
    assert.equal(chat.status, 401);
    assert.deepEqual(chat.json, {
      error: {
        message: 'Missing API key: send it in an Authorization header as "Bearer <key>".',
        type: 'invalid_request_error',
        param: null,
        code: 'invalid_api_key',
      },
    });
    const empty = await post(`${emu.openaiBaseUrl}/responses`, '{"model":"x"}', { authorization: 'Bearer ' });
    assert.equal(empty.status, 401);
    const messages = await post(`${emu.anthropicBaseUrl}/v1/messages`, JSON.stringify({ model: 'claude' }));
    assert.equal(messages.status, 401);
    assert.deepEqual(messages.json, {
      type: 'error',
      error: { type: 'authentication_error', message: 'x-api-key header is required' },
    });
    // OpenAI routes do not accept x-api-key.
    const wrongKind = await post(`${emu.openaiBaseUrl}/chat/completions`, '{"model":"x"}', { 'x-api-key': 'k' });
    assert.equal(wrongKind.status, 401);
  });

  test('unknown routes are 404 in the provider shape', async () => {
    const openai = await post(`${emu.openaiBaseUrl}/embeddingz`, '{}', { authorization: 'Bearer k' });
    assert.equal(openai.status, 404);
    assert.deepEqual(openai.json, {
      error: {
        message: 'Unknown request URL: POST /openai/v1/embeddingz',
        type: 'invalid_request_error',
        param: null,
        code: 'unknown_url',
      },
    });
    const anthropic = await post(`${emu.anthropicBaseUrl}/v1/complete`, '{}', { 'x-api-key': 'k' });
    assert.equal(anthropic.status, 404);
    assert.deepEqual(anthropic.json, {
      type: 'error',
      error: { type: 'not_found_error', message: 'Unknown request URL: POST /anthropic/v1/complete' },
    });
    const plain = await request(`${emu.url}/nope`);
    assert.equal(plain.statusCode, 404);
    assert.deepEqual(await plain.body.json(), { error: { status: 404, message: 'Unknown request URL: GET /nope' } });
  });

  test('malformed JSON is a 400 in the provider shape', async () => {
    const openai = await post(`${emu.openaiBaseUrl}/chat/completions`, '{"model": ', { authorization: 'Bearer k' });
    assert.equal(openai.status, 400);
    assert.deepEqual(openai.json, {
      error: {
        message: 'The request body is not a valid JSON object.',
        type: 'invalid_request_error',
        param: null,
        code: null,
      },
    });
    const anthropic = await post(`${emu.anthropicBaseUrl}/v1/messages`, 'not json', { 'x-api-key': 'k' });
    assert.equal(anthropic.status, 400);
    assert.deepEqual(anthropic.json, {
      type: 'error',
      error: { type: 'invalid_request_error', message: 'The request body is not a valid JSON object.' },
    });
    const noModel = await post(`${emu.anthropicBaseUrl}/v1/messages`, '{"max_tokens":1}', { 'x-api-key': 'k' });
    assert.equal(noModel.status, 400);
    // Even rejected requests are recorded: they reached upstream.
    assert.equal(emu.requests.at(-1)?.body, '{"max_tokens":1}');
  });

  test('/_emulator/requests lists and clears the recording', async () => {
    emu.clearRequests();
    await post(`${emu.anthropicBaseUrl}/v1/messages/count_tokens`, '{"model":"claude","messages":[]}', {
      'x-api-key': 'k',
    });
    const list = await request(`${emu.url}/_emulator/requests`);
    assert.equal(list.statusCode, 200);
    const recorded = (await list.body.json()) as ReceivedRequest[];
    assert.equal(recorded.length, 1);
    assert.equal(recorded[0]?.path, '/anthropic/v1/messages/count_tokens');
    assert.deepEqual(recorded[0]?.json, { model: 'claude', messages: [] });
    assert.equal(recorded[0]?.headers['x-api-key'], 'k');

    const cleared = await request(`${emu.url}/_emulator/requests`, { method: 'DELETE' });
    assert.equal(cleared.statusCode, 200);
    assert.deepEqual(await cleared.body.json(), { cleared: 1 });
    assert.equal(emu.requests.length, 0);
  });

  test('waitForRequests resolves on arrival and rejects on timeout', async () => {
    emu.clearRequests();
    const waiting = emu.waitForRequests(2, 2_000);
    await fetch(`${emu.openaiBaseUrl}/models`, { headers: { authorization: 'Bearer k' } });
    await fetch(`${emu.openaiBaseUrl}/models/gpt-4o`, { headers: { authorization: 'Bearer k' } });
    const got = await waiting;
    assert.deepEqual(
      got.map((r) => r.path),
      ['/openai/v1/models', '/openai/v1/models/gpt-4o'],
    );
    await assert.rejects(emu.waitForRequests(5, 50), /timed out after 50 ms/);
  });
});

describe('emulator options and lifecycle', () => {
  test('maxRecorded keeps only the newest requests', async (t) => {
    const emu = createLlmEmulator({ maxRecorded: 3 });
    await emu.start();
    t.after(() => emu.shutdown());
    for (let i = 0; i < 5; i++) await fetch(`${emu.url}/openai/v1/models`, { headers: { authorization: 'Bearer k' } });
    assert.deepEqual(
      emu.requests.map((r) => r.seq),
      [3, 4, 5],
    );
  });

  test('record: false records nothing', async (t) => {
    const emu = createLlmEmulator({ record: false });
    await emu.start();
    t.after(() => emu.shutdown());
    const res = await fetch(`${emu.openaiBaseUrl}/models`, { headers: { authorization: 'Bearer k' } });
    assert.equal(res.status, 200);
    assert.equal(emu.requests.length, 0);
  });

  test('shutdown is idempotent and closes in-flight streams', async () => {
    const emu: LlmEmulator = createLlmEmulator();
    await emu.start();
    const res = await fetch(`${emu.openaiBaseUrl}/chat/completions`, {
      method: 'POST',
      headers: { authorization: 'Bearer k', 'x-emulator-event-delay-ms': '10000' },
      body: JSON.stringify({ model: 'gpt-4o', messages: [], stream: true }),
    });
    assert.equal(res.status, 200);
    const reading = (async () => {
      for await (const _ of res.body ?? []) {
        // drain until the server goes away
      }
    })();
    await Promise.all([emu.shutdown(), emu.shutdown()]);
    await emu.shutdown();
    await assert.rejects(reading);
    await assert.rejects(fetch(`${emu.openaiBaseUrl}/models`));
  });

  test('a pino logger gets per-request lines only at debug level', async (t) => {
    const lines: string[] = [];
    const sink = { write: (line: string) => lines.push(line) };
    const quiet = createLlmEmulator({ logger: pino({ level: 'info' }, sink) });
    const verbose = createLlmEmulator({ logger: pino({ level: 'debug' }, sink) });
    await quiet.start();
    await verbose.start();
    t.after(() => Promise.all([quiet.shutdown(), verbose.shutdown()]));
    await fetch(`${quiet.openaiBaseUrl}/models`, { headers: { authorization: 'Bearer k' } });
    assert.deepEqual(
      lines.map((l) => (JSON.parse(l) as { msg: string }).msg),
      ['llm-emulator listening', 'llm-emulator listening'],
    );
    await fetch(`${verbose.openaiBaseUrl}/models`, { headers: { authorization: 'Bearer k' } });
    const last = JSON.parse(lines.at(-1) ?? '{}') as { msg: string; path: string };
    assert.equal(last.msg, 'llm-emulator request');
    assert.equal(last.path, '/openai/v1/models');
  });

  test('shutdown before start is a no-op; url throws before start', async () => {
    const emu = createLlmEmulator();
    assert.throws(() => emu.url, /start\(\) has not been called/);
    await emu.shutdown();
  });
});
