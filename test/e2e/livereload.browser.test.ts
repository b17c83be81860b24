/**
 * Live reload in a real browser: headless Chromium opens a page served with --watch, the page's file is
 * edited on disk, and the page reloads itself with the new content.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { browserUnavailableReason, launchChromium } from '../helpers/browser.js';
import { type RunningDocroot, startDocroot } from '../helpers/servers.js';

const skip = browserUnavailableReason();

const page = (heading: string) =>
  `<!doctype html><html><head><title>${heading}</title></head><body><h1>${heading}</h1></body></html>\n`;

describe('--watch in headless Chromium', { skip: skip ?? false }, () => {
  let root: string;
  let docroot: RunningDocroot;
  let browser: Browser;
  before(async () => {
    root = mkdtempSync(path.join(os.tmpdir(), 'docroot-watch-browser-'));
    writeFileSync(path.join(root, 'index.html'), page('Before'));
    docroot = await startDocroot({ root, watch: true });
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await docroot?.close();
    rmSync(root, { recursive: true, force: true });
  });

  test('the page reloads itself after its file is edited', async () => {
    const tab = await browser.newPage();
    const connected = tab.waitForResponse((response) => response.url().includes('/livereload'));
    await tab.goto(`http://127.0.0.1:${docroot.port}/`);
    assert.equal(await tab.locator('h1').textContent(), 'Before');
    await connected;
    // A marker on window survives only until the page reloads.
    await tab.evaluate(() => {
      (window as unknown as { marker: number }).marker = 1;
    });
    const reloaded = tab.waitForEvent('load', { timeout: 10_000 });
    writeFileSync(path.join(root, 'index.html'), page('After'));
    await reloaded;
    await tab.locator('h1', { hasText: 'After' }).waitFor({ timeout: 10_000 });
    assert.equal(await tab.evaluate(() => (window as unknown as { marker?: number }).marker), undefined);
    await tab.close();
  });
});

if (skip !== null) {
  test(`browser tests skipped: ${skip}`, { skip }, () => {});
}
