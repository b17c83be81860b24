/**
 * The HTML listing in a real browser: headless Chromium opens the root, clicks into folders and a file,
 * and a screenshot of the listing is saved to test/artifacts/listing.png.
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { browserUnavailableReason, launchChromium } from '../helpers/browser.js';
import { type RunningDocroot, startDocroot } from '../helpers/servers.js';

const ARTIFACTS = new URL('../../../test/artifacts/', import.meta.url).pathname;
const skip = browserUnavailableReason();

describe('the HTML listing in headless Chromium', { skip: skip ?? false }, () => {
  let docroot: RunningDocroot;
  let browser: Browser;
  before(async () => {
    docroot = await startDocroot();
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await docroot?.close();
  });

  test('shows the root, clicks into a folder and a file, and saves a screenshot', async () => {
    const page = await browser.newPage({ viewport: { width: 900, height: 700 } });
    const base = `http://127.0.0.1:${docroot.port}/`;
    await page.goto(base);
    assert.equal(await page.title(), 'Index of /');
    const names = await page.locator('#listing a.name').allTextContents();
    assert.ok(names.includes('docs/'), `folders listed: ${names.join(', ')}`);
    assert.ok(names.indexOf('docs/') < names.indexOf('text.txt'), 'folders come before files');
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: `${ARTIFACTS}listing.png`, fullPage: true });

    await page.locator('#listing a.name', { hasText: 'docs/' }).click();
    await page.waitForURL(`${base}docs/`);
    assert.equal(await page.title(), 'Index of /docs/');
    await page.locator('#listing a.name', { hasText: 'guide/' }).click();
    await page.waitForURL(`${base}docs/guide/`);
    await page.locator('#listing a.name', { hasText: 'intro.txt' }).click();
    await page.waitForURL(`${base}docs/guide/intro.txt`);
    assert.equal((await page.locator('body').textContent())?.trim(), 'Guide text');

    await page.goto(`${base}docs/guide/`);
    await page.locator('a.crumb', { hasText: 'docs' }).first().click();
    await page.waitForURL(`${base}docs/`);
    await page.close();
  });

  test('renders images referenced by a page from the webroot', async () => {
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${docroot.port}/a_web_page.html`);
    const widths = await page.$$eval('img', (imgs) =>
      imgs.map((img) => (img as HTMLImageElement).naturalWidth),
    );
    assert.deepEqual(widths, [32, 32]);
    await page.close();
  });
});

if (skip !== null) {
  test(`browser tests skipped: ${skip}`, { skip }, () => {});
}
