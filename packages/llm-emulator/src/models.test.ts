import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Anthropic } from '@anthropic-ai/sdk';
import { OpenAI } from 'openai';
import { ANTHROPIC_MODELS, OPENAI_MODELS, createLlmEmulator } from './index.js';

describe('models endpoints', () => {
  const emu = createLlmEmulator();
  let openai: OpenAI;
  let anthropic: Anthropic;

  before(async () => {
    await emu.start();
    openai = new OpenAI({ baseURL: emu.openaiBaseUrl, apiKey: 'sk-test', maxRetries: 0 });
    anthropic = new Anthropic({ baseURL: emu.anthropicBaseUrl, apiKey: 'sk-ant-test', maxRetries: 0 });
  });
  after(() => emu.shutdown());

  test('openai list and retrieve', async () => {
    const ids: string[] = [];
    for await (const model of openai.models.list()) {
      assert.equal(model.object, 'model');
      ids.push(model.id);
    }
    assert.deepEqual(ids, [...OPENAI_MODELS]);
    assert.ok(ids.includes('gpt-4o'));
    const one = await openai.models.retrieve('gpt-4o');
    assert.deepEqual(one, { id: 'gpt-4o', object: 'model', created: 1_715_367_049, owned_by: 'system' });
  });

  test('anthropic list and retrieve', async () => {
    const ids: string[] = [];
    for await (const model of anthropic.models.list()) {
      assert.equal(model.type, 'model');
      ids.push(model.id);
    }
    assert.deepEqual(ids, [...ANTHROPIC_MODELS]);
    const one = await anthropic.models.retrieve('claude-sonnet-4-5-20250929');
    assert.equal(one.id, 'claude-sonnet-4-5-20250929');
    assert.equal(one.display_name, 'Claude Sonnet 4.5');
    assert.equal(one.type, 'model');
  });

  test('models routes require auth too', async () => {
    const res = await fetch(`${emu.openaiBaseUrl}/models`);
    assert.equal(res.status, 401);
    const anth = await fetch(`${emu.anthropicBaseUrl}/v1/models/claude-x`);
    assert.equal(anth.status, 401);
    assert.deepEqual(await anth.json(), {
      type: 'error',
      error: { type: 'authentication_error', message: 'x-api-key header is required' },
    });
  });
});
