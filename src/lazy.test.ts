import assert from 'node:assert/strict';
import { test } from 'node:test';
import { lazy } from './lazy.js';

test('lazy() loads once, on first use, for every caller', async () => {
  let loads = 0;
  const value = lazy(async () => ++loads);
  assert.equal(value.ifStarted(), null);
  assert.equal(loads, 0);
  const [a, b] = await Promise.all([value.get(), value.get()]);
  assert.deepEqual([a, b, await value.get(), loads], [1, 1, 1, 1]);
  assert.equal(await value.ifStarted(), 1);
});

test('lazy() forgets a failed load, so the next use tries again', async () => {
  let attempts = 0;
  const value = lazy(async () => {
    attempts++;
    if (attempts === 1) throw new Error('first load fails');
    return 'loaded';
  });
  await assert.rejects(value.get(), /first load fails/);
  assert.equal(await value.get(), 'loaded');
  assert.equal(attempts, 2);
});
