/**
 * The listing's upload form in headless Chromium: with script (XMLHttpRequest, progress bar, reload) and
 * without (a plain form POST answered 303 back to the folder).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { browserUnavailableReason, launchChromium } from '../helpers/browser.js';
import { type RunningDocroot, startDocroot } from '../helpers/servers.js';

const skip = browserUnavailableReason();

describe('uploading through the listing page in headless Chromium', { skip: skip ?? false }, () => {
  let root: string;
  let docroot: RunningDocroot;
  let browser: Browser;
  before(async () => {
    root = mkdtempSync(path.join(os.tmpdir(), 'docroot-browser-upload-'));
    docroot = await startDocroot({ root, upload: {} });
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await docroot?.close();
    rmSync(root, { recursive: true, force: true });
  });

  test('with script: the file is sent, the progress bar shows, the listing reloads with it', async () => {
    const page = await browser.newPage();
    const base = `http://127.0.0.1:${docroot.port}/`;
    await page.goto(base);
    const contents = Buffer.alloc(256 * 1024, 0x78);
    await page.locator('#upload-files').setInputFiles([
      { name: 'from-browser.txt', mimeType: 'text/plain', buffer: contents },
      { name: 'second file.txt', mimeType: 'text/plain', buffer: Buffer.from('two') },
    ]);
    const reloaded = page.waitForEvent('load');
    await page.locator('#upload button[type=submit]').click();
    await reloaded;
    await page.locator('#listing a.name', { hasText: 'from-browser.txt' }).waitFor();
    const names = await page.locator('#listing a.name').allTextContents();
    assert.ok(names.includes('second file.txt'), names.join(', '));
    assert.ok(readFileSync(path.join(root, 'from-browser.txt')).equals(contents));
    await page.close();
  });

  test('without script: the form POSTs and 303 brings the listing back', async () => {
    const context = await browser.newContext({ javaScriptEnabled: false });
    const page = await context.newPage();
    await page.goto(`http://127.0.0.1:${docroot.port}/`);
    await page.locator('#upload-files').setInputFiles({
      name: 'no-script.txt',
      mimeType: 'text/plain',
      buffer: Buffer.from('plain form'),
    });
    await Promise.all([
      page.waitForURL(`http://127.0.0.1:${docroot.port}/`),
      page.locator('#upload button').click(),
    ]);
    await page.locator('#listing a.name', { hasText: 'no-script.txt' }).waitFor();
    assert.equal(readFileSync(path.join(root, 'no-script.txt'), 'utf8'), 'plain form');
    await context.close();
  });
});
