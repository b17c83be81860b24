/**
 * The listing as a small file manager, in headless Chromium: download buttons and the selection download
 * (with and without script), the README below the table and `?view=rendered`, keyboard navigation,
 * times in the viewer's zone, and with writes allowed: file and folder uploads with progress, cancel and
 * resumable retry, New folder, Rename/Move and Delete. Downloads are opened with the real `unzip`.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, BrowserContext, Download, Page } from 'playwright-core';
import { browserUnavailableReason, launchChromium } from '../helpers/browser.js';
import { type RunningDocroot, startDocroot } from '../helpers/servers.js';

const skip = browserUnavailableReason();
const unzipMissing = spawnSync('unzip', ['-v']).status === 0 ? null : 'unzip is not installed';

/** The names in a downloaded ZIP, checked whole by `unzip -t` first. */
async function zipNamesOf(download: Download, base: string): Promise<string[]> {
  const file = path.join(base, `${Date.now()}-${download.suggestedFilename()}`);
  await download.saveAs(file);
  const integrity = spawnSync('unzip', ['-t', file], { encoding: 'utf8' });
  assert.equal(integrity.status, 0, integrity.stdout + integrity.stderr);
  const names = spawnSync('unzip', ['-Z1', file], { encoding: 'utf8' }).stdout;
  return names.split('\n').filter(Boolean).sort();
}

function makeShare(base: string): string {
  const root = path.join(base, 'share');
  const files: Record<string, string> = {
    'docs/guide.md': '# Guide\n\nSee [the notes](notes.md) and ![logo](img/logo.png).\n',
    'docs/notes.md': '# Notes\n\n<script>window.pwned = true</script>\n',
    'docs/img/logo.png': 'png',
    'photos/a.jpg': 'jpeg',
    'README.md': '# Welcome\n\nRead [the guide](docs/guide.md).\n\n<b>raw html</b>\n',
    'a.txt': 'alpha\n',
    'b.txt': 'bravo\n',
    'c.bin': 'x'.repeat(5000),
  };
  for (const [name, contents] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(root, name)), { recursive: true });
    writeFileSync(path.join(root, name), contents);
  }
  const when = new Date('2026-01-15T22:45:10Z');
  utimesSync(path.join(root, 'a.txt'), when, when);
  return root;
}

describe('the listing as a file manager in headless Chromium', { skip: skip ?? false }, () => {
  let base: string;
  let root: string;
  let docroot: RunningDocroot;
  let browser: Browser;
  let url: string;
  before(async () => {
    base = mkdtempSync(path.join(os.tmpdir(), 'docroot-file-manager-'));
    root = makeShare(base);
    docroot = await startDocroot({ root });
    url = `http://127.0.0.1:${docroot.port}/`;
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await docroot?.close();
    rmSync(base, { recursive: true, force: true });
  });

  async function withPage(script: boolean, run: (page: Page, context: BrowserContext) => Promise<void>) {
    const context = await browser.newContext({ javaScriptEnabled: script, acceptDownloads: true });
    try {
      await run(await context.newPage(), context);
    } finally {
      await context.close();
    }
  }

  for (const script of [true, false]) {
    const how = script ? 'with script' : 'without script';
    test(`${how}: the folder's zip button downloads the folder`, {
      skip: unzipMissing ?? false,
    }, async () => {
      await withPage(script, async (page) => {
        await page.goto(`${url}docs/`);
        const [download] = await Promise.all([
          page.waitForEvent('download'),
          page.getByRole('button', { name: 'Download folder (zip)' }).click(),
        ]);
        assert.equal(download.suggestedFilename(), 'docs.zip');
        assert.deepEqual(await zipNamesOf(download, base), [
          'docs/guide.md',
          'docs/img/',
          'docs/img/logo.png',
          'docs/notes.md',
        ]);
      });
    });

    test(`${how}: ticked entries download as one zip`, { skip: unzipMissing ?? false }, async () => {
      await withPage(script, async (page) => {
        await page.goto(url);
        await page.getByRole('checkbox', { name: 'Select a.txt' }).check();
        await page.getByRole('checkbox', { name: 'Select photos' }).check();
        if (script) assert.equal(await page.locator('#selection-count').textContent(), '2 selected');
        const [download] = await Promise.all([
          page.waitForEvent('download'),
          page.getByRole('button', { name: 'Download selected (zip)' }).click(),
        ]);
        assert.deepEqual(await zipNamesOf(download, base), [
          'share/a.txt',
          'share/photos/',
          'share/photos/a.jpg',
        ]);
      });
    });
  }

  test('with script: the selection button waits for a tick, and "select all" ticks every entry', async () => {
    await withPage(true, async (page) => {
      await page.goto(url);
      const button = page.getByRole('button', { name: 'Download selected (zip)' });
      assert.equal(await button.isDisabled(), true);
      await page.getByRole('checkbox', { name: 'Select all entries' }).check();
      assert.equal(await button.isDisabled(), false);
      const boxes = page.locator('#listing input[name=select]');
      assert.equal(await boxes.count(), 6);
      for (const checked of await boxes.evaluateAll((all) =>
        all.map((box) => (box as HTMLInputElement).checked),
      )) {
        assert.equal(checked, true);
      }
    });
  });

  test('without script: "Download selected" with nothing ticked explains itself', async () => {
    await withPage(false, async (page) => {
      await page.goto(url);
      const [response] = await Promise.all([
        page.waitForResponse((answer) => answer.url().includes('download=selection')),
        page.getByRole('button', { name: 'Download selected (zip)' }).click(),
      ]);
      assert.equal(response.status(), 400);
      assert.match((await page.locator('#reason').textContent()) ?? '', /tick an entry first/);
    });
  });

  for (const script of [true, false]) {
    test(`${script ? 'with' : 'without'} script: the README is rendered below the table, raw HTML shown as text`, async () => {
      await withPage(script, async (page) => {
        await page.goto(url);
        const readme = page.locator('#readme');
        assert.equal(await readme.locator('h2').textContent(), 'README.md');
        assert.equal(await readme.locator('.markdown h1').textContent(), 'Welcome');
        assert.match((await readme.locator('.markdown').textContent()) ?? '', /<b>raw html<\/b>/);
        assert.equal(await readme.locator('.markdown b').count(), 0);
        await readme.getByRole('link', { name: 'the guide' }).click();
        await page.waitForURL(`${url}docs/guide.md?view=rendered`);
        assert.equal(await page.locator('article.markdown h1').textContent(), 'Guide');
        const logo = await page.locator('article.markdown img').getAttribute('src');
        assert.equal(logo, '/docs/img/logo.png');
        await page.getByRole('link', { name: 'the notes' }).click();
        await page.waitForURL(`${url}docs/notes.md?view=rendered`);
        assert.equal(await page.evaluate(() => (window as unknown as { pwned?: boolean }).pwned), undefined);
        await page.getByRole('link', { name: 'raw file' }).click();
        await page.waitForURL(`${url}docs/notes.md`);
        assert.match((await page.locator('body').textContent()) ?? '', /<script>/);
      });
    });
  }

  test('keyboard: j/k and the arrows move between entries, Enter opens, Backspace goes up, / searches', async () => {
    await withPage(true, async (page) => {
      await page.goto(`${url}docs/`);
      await page.keyboard.press('j');
      assert.equal(await page.evaluate(() => document.activeElement?.textContent), '../');
      await page.keyboard.press('ArrowDown');
      assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'img/');
      await page.keyboard.press('j');
      await page.keyboard.press('k');
      await page.keyboard.press('ArrowDown');
      assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'guide.md');
      await page.keyboard.press('Enter');
      await page.waitForURL(`${url}docs/guide.md`);
      await page.goto(`${url}docs/img/`);
      await page.keyboard.press('Backspace');
      await page.waitForURL(`${url}docs/`);
      await page.keyboard.press('/');
      assert.equal(
        await page.evaluate(() => (document.activeElement as HTMLInputElement | null)?.type),
        'search',
      );
      await page.keyboard.type('logo');
      await page.keyboard.press('Enter');
      await page.waitForURL(`${url}docs/?q=logo`);
      assert.deepEqual(await page.locator('#results a.name').allTextContents(), ['img/logo.png']);
    });
  });

  test("times are shown in the viewer's zone with the exact UTC time in the tooltip; sizes have exact bytes", async () => {
    const context = await browser.newContext({ timezoneId: 'Asia/Kolkata' });
    try {
      const page = await context.newPage();
      await page.goto(url);
      const time = page.locator('tr', { has: page.getByRole('link', { name: 'a.txt' }) }).locator('time');
      assert.equal(await time.textContent(), '2026-01-16 04:15');
      assert.equal(await time.getAttribute('title'), '2026-01-15 22:45:10 UTC');
      const size = page.locator('tr', { has: page.getByRole('link', { name: 'c.bin' }) }).locator('td.size');
      assert.equal(await size.textContent(), '4.9 KiB');
      assert.equal(await size.getAttribute('title'), '5,000 bytes');
      const folder = page
        .locator('tr', { has: page.getByRole('link', { name: 'docs/' }) })
        .locator('td.size');
      assert.equal(await folder.textContent(), '3 items');
      const icon = page
        .locator('tr', { has: page.getByRole('link', { name: 'photos/' }) })
        .locator('svg use');
      assert.equal(await icon.getAttribute('href'), '#i-folder');
    } finally {
      await context.close();
    }
  });
});

describe('the listing with writes allowed, in headless Chromium', { skip: skip ?? false }, () => {
  let base: string;
  let root: string;
  let docroot: RunningDocroot;
  let browser: Browser;
  let url: string;
  before(async () => {
    base = mkdtempSync(path.join(os.tmpdir(), 'docroot-file-manager-rw-'));
    root = makeShare(base);
    docroot = await startDocroot({ root, upload: {} });
    url = `http://127.0.0.1:${docroot.port}/`;
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await docroot?.close();
    rmSync(base, { recursive: true, force: true });
  });

  test('a folder upload keeps its tree, each file with its own progress bar', async () => {
    const tree = path.join(base, 'album');
    mkdirSync(path.join(tree, 'day 1'), { recursive: true });
    writeFileSync(path.join(tree, 'cover.txt'), 'cover');
    writeFileSync(path.join(tree, 'day 1', 'morning.txt'), 'morning');
    const page = await browser.newPage();
    await page.goto(url);
    await page.getByLabel('or a folder').setInputFiles(tree);
    const reloaded = page.waitForEvent('load');
    await page.getByRole('button', { name: 'Upload', exact: true }).click();
    await page
      .getByRole('progressbar', { name: 'Upload of album/day 1/morning.txt' })
      .waitFor({ state: 'attached' });
    await reloaded;
    assert.equal(readFileSync(path.join(root, 'album', 'day 1', 'morning.txt'), 'utf8'), 'morning');
    assert.equal(readFileSync(path.join(root, 'album', 'cover.txt'), 'utf8'), 'cover');
    await page.getByRole('link', { name: 'album/' }).waitFor();
    await page.close();
  });

  test('on a phone (375 px) the page with every control fits its width', async () => {
    const page = await browser.newPage({ viewport: { width: 375, height: 740 } });
    await page.goto(url);
    await page.getByRole('button', { name: 'Delete a.txt' }).waitFor();
    const [scrollWidth, clientWidth] = await page.evaluate(() => [
      document.documentElement.scrollWidth,
      document.documentElement.clientWidth,
    ]);
    assert.ok(scrollWidth <= clientWidth, `scrolls sideways: ${scrollWidth} > ${clientWidth}`);
    assert.equal(await page.locator('th.mtime').isVisible(), false, 'the time column gives way on a phone');
    await page.close();
  });

  test('files dropped on the page are uploaded', async () => {
    const page = await browser.newPage();
    await page.goto(url);
    const reloaded = page.waitForEvent('load');
    await page.evaluate(() => {
      const transfer = new DataTransfer();
      transfer.items.add(new File(['dropped bytes'], 'dropped.txt', { type: 'text/plain' }));
      document.body.dispatchEvent(
        new DragEvent('dragover', { dataTransfer: transfer, bubbles: true, cancelable: true }),
      );
      document.body.dispatchEvent(
        new DragEvent('drop', { dataTransfer: transfer, bubbles: true, cancelable: true }),
      );
    });
    await reloaded;
    assert.equal(readFileSync(path.join(root, 'dropped.txt'), 'utf8'), 'dropped bytes');
    await page.close();
  });

  test('a dropped folder keeps its tree (read entry by entry, as Chromium hands folders over)', async () => {
    const page = await browser.newPage();
    await page.goto(url);
    const reloaded = page.waitForEvent('load');
    await page.evaluate(() => {
      // A drop's folders arrive as FileSystemEntry trees; a test cannot make real ones, so these have
      // their shape: isFile/isDirectory, name, file(), and createReader() handing out entries in batches.
      type FakeEntry = Record<string, unknown>;
      const file = (name: string, text: string): FakeEntry => ({
        isFile: true,
        isDirectory: false,
        name,
        file: (done: (value: File) => void) => done(new File([text], name)),
      });
      const folder = (name: string, children: FakeEntry[]): FakeEntry => ({
        isFile: false,
        isDirectory: true,
        name,
        createReader: () => {
          const batches = [children.slice(0, 1), children.slice(1), []];
          return { readEntries: (done: (batch: FakeEntry[]) => void) => done(batches.shift() ?? []) };
        },
      });
      const tree = folder('trip', [
        file('map.txt', 'map'),
        folder('day 2', [file('evening.txt', 'evening')]),
        folder('empty', []),
      ]);
      const drop = new Event('drop', { bubbles: true, cancelable: true });
      Object.defineProperty(drop, 'dataTransfer', {
        value: { types: ['Files'], files: [], items: [{ webkitGetAsEntry: () => tree }] },
      });
      document.body.dispatchEvent(drop);
    });
    await reloaded;
    assert.equal(readFileSync(path.join(root, 'trip', 'map.txt'), 'utf8'), 'map');
    assert.equal(readFileSync(path.join(root, 'trip', 'day 2', 'evening.txt'), 'utf8'), 'evening');
    assert.equal(existsSync(path.join(root, 'trip', 'empty')), true, 'an empty folder is made too');
    await page.close();
  });

  test('a failed piece is retried from where the server stopped (HEAD, then PATCH)', async () => {
    const context = await browser.newContext();
    await context.addInitScript(() => {
      (window as unknown as { DOCROOT_UPLOAD_PIECE_BYTES: number }).DOCROOT_UPLOAD_PIECE_BYTES = 64 * 1024;
    });
    const page = await context.newPage();
    const methods: string[] = [];
    let failedOnce = false;
    await page.route('**/resumed.bin', async (route) => {
      const method = route.request().method();
      methods.push(method);
      if (method === 'PATCH' && !failedOnce) {
        failedOnce = true;
        await route.abort('connectionreset');
        return;
      }
      await route.continue();
    });
    await page.goto(url);
    const contents = Buffer.alloc(200 * 1024);
    for (let index = 0; index < contents.length; index++) contents[index] = index % 251;
    await page
      .locator('#upload-files')
      .setInputFiles({ name: 'resumed.bin', mimeType: 'application/octet-stream', buffer: contents });
    await page.getByRole('button', { name: 'Upload', exact: true }).click();
    const retry = page.getByRole('button', { name: 'Retry the upload of resumed.bin' });
    await retry.waitFor();
    assert.match((await page.locator('#transfers .transfer-state').textContent()) ?? '', /^Failed/);
    const reloaded = page.waitForEvent('load');
    await retry.click();
    await reloaded;
    assert.ok(readFileSync(path.join(root, 'resumed.bin')).equals(contents));
    assert.deepEqual(methods.slice(0, 3), ['PUT', 'PATCH', 'HEAD']);
    assert.ok(
      methods.slice(3).every((method) => method === 'PATCH'),
      methods.join(' '),
    );
    await context.close();
  });

  test('Cancel stops an upload in progress', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(url);
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    await page.route('**/held.bin', async (route) => {
      await held;
      await route.continue().catch(() => {});
    });
    await page
      .locator('#upload-files')
      .setInputFiles({ name: 'held.bin', mimeType: 'application/octet-stream', buffer: Buffer.alloc(1024) });
    await page.getByRole('button', { name: 'Upload', exact: true }).click();
    await page.getByRole('button', { name: 'Cancel the upload of held.bin' }).click();
    await page.locator('#transfers .transfer-state', { hasText: 'Cancelled' }).waitFor();
    await page.getByRole('button', { name: 'Retry the upload of held.bin' }).waitFor();
    release();
    assert.equal(existsSync(path.join(root, 'held.bin')), false);
    await context.close();
  });

  test('New folder, Rename/Move and Delete (after a confirmation)', async () => {
    const page = await browser.newPage();
    await page.goto(url);
    page.once('dialog', (dialog) => dialog.accept('made here'));
    let reloaded = page.waitForEvent('load');
    await page.getByRole('button', { name: 'New folder' }).click();
    await reloaded;
    await page.getByRole('link', { name: 'made here/' }).waitFor();

    page.once('dialog', (dialog) => dialog.accept('made here/b moved.txt'));
    reloaded = page.waitForEvent('load');
    await page.getByRole('button', { name: 'Rename/Move b.txt' }).click();
    await reloaded;
    assert.equal(readFileSync(path.join(root, 'made here', 'b moved.txt'), 'utf8'), 'bravo\n');
    assert.equal(existsSync(path.join(root, 'b.txt')), false);

    page.once('dialog', (dialog) => dialog.dismiss());
    await page.getByRole('button', { name: 'Delete a.txt' }).click();
    assert.equal(existsSync(path.join(root, 'a.txt')), true, 'dismissing the confirmation keeps the file');
    page.once('dialog', (dialog) => {
      assert.match(dialog.message(), /Delete a\.txt\?/);
      void dialog.accept();
    });
    reloaded = page.waitForEvent('load');
    await page.getByRole('button', { name: 'Delete a.txt' }).click();
    await reloaded;
    assert.equal(existsSync(path.join(root, 'a.txt')), false);
    await page.close();
  });
});

describe('write controls follow --auth', { skip: skip ?? false }, () => {
  let base: string;
  let docroot: RunningDocroot;
  let browser: Browser;
  before(async () => {
    base = mkdtempSync(path.join(os.tmpdir(), 'docroot-file-manager-auth-'));
    docroot = await startDocroot({
      root: makeShare(base),
      upload: {},
      auth: [
        { pathPrefix: '/', access: 'ro' },
        { pathPrefix: '/docs', access: 'ro' },
        { user: 'admin', password: 'secret', pathPrefix: '/docs', access: 'rw' },
      ],
    });
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await docroot?.close();
    rmSync(base, { recursive: true, force: true });
  });

  test('no write controls where no rule lets anyone write; controls where a password would', async () => {
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${docroot.port}/`);
    assert.equal(await page.locator('#manage').count(), 0);
    assert.equal(await page.locator('button.delete').count(), 0);
    await page.goto(`http://127.0.0.1:${docroot.port}/docs/`);
    assert.equal(await page.locator('#manage').count(), 1);
    await page.close();
  });

  test('with the password the browser asked for, the upload goes through', async () => {
    const context = await browser.newContext({ httpCredentials: { username: 'admin', password: 'secret' } });
    try {
      const page = await context.newPage();
      await page.goto(`http://127.0.0.1:${docroot.port}/docs/`);
      await page.locator('#upload-files').setInputFiles({
        name: 'signed.txt',
        mimeType: 'text/plain',
        buffer: Buffer.from('by admin'),
      });
      const reloaded = page.waitForEvent('load');
      await page.getByRole('button', { name: 'Upload', exact: true }).click();
      await reloaded;
      await page.getByRole('link', { name: 'signed.txt' }).waitFor();
    } finally {
      await context.close();
    }
  });
});

if (skip !== null) {
  test(`browser tests skipped: ${skip}`, { skip }, () => {});
}
