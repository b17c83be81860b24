/**
 * axe-core (the npm package's own build, injected into the page) on every kind of page the listing
 * shows, in headless Chromium, with the WCAG 2.0/2.1 A and AA rules: the listing in light and dark mode,
 * read-only and with write controls, search results, the upload panel with transfers in it, a rendered
 * Markdown file and error pages. Each must have no violation at all.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { axeViolations } from '../helpers/axe.js';
import { browserUnavailableReason, launchChromium } from '../helpers/browser.js';
import { type RunningDocroot, startDocroot } from '../helpers/servers.js';

const skip = browserUnavailableReason();

function makeShare(base: string): string {
  const root = path.join(base, 'share');
  const files: Record<string, string> = {
    'docs/guide.md':
      '# Guide\n\n## Part\n\nText with `code`, a [link](../a.txt) and a table:\n\n| a | b |\n| - | - |\n| 1 | 2 |\n',
    'photos/a.jpg': 'jpeg',
    'README.md': '# Welcome\n\nSome *text* and a [link](docs/).\n\n```sh\nnpx docroot\n```\n',
    'a.txt': 'alpha\n',
    'archive.zip': 'zip',
    'tune.ogg': 'ogg',
    'page.html': '<p>x</p>',
  };
  for (const [name, contents] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(root, name)), { recursive: true });
    writeFileSync(path.join(root, name), contents);
  }
  return root;
}

/**
 * The page as a browser without script shows it: axe itself needs script, so instead of turning script
 * off the page's own `<script>` elements are taken out of every document the server sends.
 */
async function withoutPageScripts(page: Page): Promise<void> {
  await page.route('**/*', async (route) => {
    if (route.request().resourceType() !== 'document') return route.continue();
    const response = await route.fetch();
    const body = (await response.text()).replace(/<script>[\s\S]*?<\/script>/g, '');
    return route.fulfill({ response, body });
  });
}

async function assertNoViolations(page: Page, what: string): Promise<void> {
  const violations = await axeViolations(page);
  assert.deepEqual(violations, [], `${what}:\n${violations.join('\n')}`);
}

describe('axe-core finds no WCAG 2.1 A/AA violation on the listing pages', { skip: skip ?? false }, () => {
  let base: string;
  let readOnly: RunningDocroot;
  let writable: RunningDocroot;
  let browser: Browser;
  before(async () => {
    base = mkdtempSync(path.join(os.tmpdir(), 'docroot-axe-'));
    const root = makeShare(base);
    readOnly = await startDocroot({ root });
    writable = await startDocroot({ root, upload: {} });
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await readOnly?.close();
    await writable?.close();
    rmSync(base, { recursive: true, force: true });
  });

  const pages: Array<[string, (ports: { ro: number; rw: number }) => string]> = [
    ['the root listing', ({ ro }) => `http://127.0.0.1:${ro}/`],
    ['a subfolder listing', ({ ro }) => `http://127.0.0.1:${ro}/docs/`],
    ['search results', ({ ro }) => `http://127.0.0.1:${ro}/?q=a`],
    ['search results with no match', ({ ro }) => `http://127.0.0.1:${ro}/?q=nothing-like-this`],
    ['the listing with write controls', ({ rw }) => `http://127.0.0.1:${rw}/`],
    ['a rendered Markdown file', ({ ro }) => `http://127.0.0.1:${ro}/docs/guide.md?view=rendered`],
    ['the 404 page', ({ ro }) => `http://127.0.0.1:${ro}/missing.txt`],
    ['the 400 page of an empty selection', ({ ro }) => `http://127.0.0.1:${ro}/?download=selection`],
  ];
  for (const colorScheme of ['light', 'dark'] as const) {
    for (const script of [true, false]) {
      for (const [what, address] of pages) {
        const label = `${what} (${colorScheme}, ${script ? 'with' : 'without'} script)`;
        test(label, async () => {
          const context = await browser.newContext({ colorScheme });
          try {
            const page = await context.newPage();
            if (!script) await withoutPageScripts(page);
            await page.goto(address({ ro: readOnly.port, rw: writable.port }));
            await assertNoViolations(page, label);
          } finally {
            await context.close();
          }
        });
      }
    }
  }

  for (const colorScheme of ['light', 'dark'] as const) {
    test(`the upload panel with transfers, a focused row and a ticked entry (${colorScheme})`, async () => {
      const context = await browser.newContext({ colorScheme });
      try {
        const page = await context.newPage();
        // The upload is held by the test, so its progress bar, Cancel button and state stay on the page.
        await page.route('**/held.bin', () => {});
        await page.goto(`http://127.0.0.1:${writable.port}/`);
        await page.locator('#upload-files').setInputFiles({
          name: 'held.bin',
          mimeType: 'application/octet-stream',
          buffer: Buffer.alloc(2048),
        });
        await page.getByRole('button', { name: 'Upload', exact: true }).click();
        await page.getByRole('button', { name: 'Cancel the upload of held.bin' }).waitFor();
        await page.getByRole('checkbox', { name: 'Select a.txt' }).check();
        await page.keyboard.press('j');
        await assertNoViolations(page, `upload panel (${colorScheme})`);
      } finally {
        await context.close();
      }
    });
  }
});

if (skip !== null) {
  test(`browser tests skipped: ${skip}`, { skip }, () => {});
}
