/**
 * Cross-site writes in headless Chromium (issue 17): a page on another site posting a multipart form into
 * a docroot with --upload is refused (the browser marks it Sec-Fetch-Site: cross-site), while the same
 * script on docroot's own page is allowed.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import type { ExchangeRecord } from '../../src/wire/observer.js';
import { browserUnavailableReason, launchChromium } from '../helpers/browser.js';
import { type RunningDocroot, startDocroot } from '../helpers/servers.js';

const skip = browserUnavailableReason();

/** A page that posts a form replacing index.html at `target`, then says so in its title. */
function attackPage(target: string): string {
  return `<!doctype html><title>waiting</title><script>
const form = new FormData();
form.append('file', new Blob(['<h1>owned</h1>'], { type: 'text/html' }), 'index.html');
fetch(${JSON.stringify(target)}, { method: 'POST', mode: 'no-cors', body: form })
  .then(() => { document.title = 'sent'; }, () => { document.title = 'sent'; });
</script>`;
}

describe('cross-site writes in headless Chromium', { skip: skip ?? false }, () => {
  let victimRoot: string;
  let attackerRoot: string;
  let victim: RunningDocroot;
  let attacker: RunningDocroot;
  let browser: Browser;
  const exchanges: ExchangeRecord[] = [];
  before(async () => {
    victimRoot = mkdtempSync(path.join(os.tmpdir(), 'docroot-victim-'));
    attackerRoot = mkdtempSync(path.join(os.tmpdir(), 'docroot-attacker-'));
    writeFileSync(path.join(victimRoot, 'index.html'), '<h1>original</h1>');
    victim = await startDocroot({
      root: victimRoot,
      upload: {},
      observer: { onExchange: (record) => exchanges.push(record) },
    });
    attacker = await startDocroot({ root: attackerRoot });
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await victim?.close();
    await attacker?.close();
    rmSync(victimRoot, { recursive: true, force: true });
    rmSync(attackerRoot, { recursive: true, force: true });
  });

  test('a form posted from another site does not replace index.html', async () => {
    writeFileSync(path.join(attackerRoot, 'evil.html'), attackPage(`http://127.0.0.1:${victim.port}/`));
    const page = await browser.newPage();
    // localhost and 127.0.0.1 are different sites to the browser.
    await page.goto(`http://localhost:${attacker.port}/evil.html`);
    await page.waitForFunction(() => document.title === 'sent');
    await page.close();
    const post = exchanges.find((record) => record.request?.method === 'POST');
    assert.equal(post?.status, 403);
    assert.equal(post?.request?.headers['sec-fetch-site'], 'cross-site');
    assert.equal(readFileSync(path.join(victimRoot, 'index.html'), 'utf8'), '<h1>original</h1>');
  });

  test("the same script on docroot's own page may write", async () => {
    writeFileSync(path.join(victimRoot, 'own.html'), attackPage('/'));
    exchanges.length = 0;
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${victim.port}/own.html`);
    await page.waitForFunction(() => document.title === 'sent');
    await page.close();
    const post = exchanges.find((record) => record.request?.method === 'POST');
    assert.equal(post?.request?.headers['sec-fetch-site'], 'same-origin');
    assert.equal(post?.status, 303);
    assert.equal(readFileSync(path.join(victimRoot, 'index.html'), 'utf8'), '<h1>owned</h1>');
  });
});
