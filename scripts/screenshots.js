// The README's screenshots of the listing, made again from headless Chromium: the light and the dark
// listing of a small demo folder, and an upload in progress (the upload bandwidth is throttled through
// the DevTools protocol so the progress bar is caught half-way).
// Usage: npm run screenshots   (builds first; writes docs/listing-light.png, listing-dark.png,
// upload-progress.png). Needs Chromium at /usr/bin/chromium or CHROMIUM_PATH.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { createServer } from '../dist/index.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const OUT = fileURLToPath(new URL('../docs/', import.meta.url));
const VIEWPORT = { width: 960, height: 720 };
/** Bytes per second the throttled upload gets: slow enough to photograph a progress bar. */
const THROTTLED_UPLOAD_BYTES_PER_SECOND = 256 * 1024;

if (!existsSync(CHROMIUM)) {
  console.error(`screenshots: no Chromium at ${CHROMIUM} (install Debian's chromium or set CHROMIUM_PATH)`);
  process.exit(1);
}

/** A demo share with a fixed clock, so the pictures do not change with the day they are made. */
function makeDemoFolder() {
  const base = mkdtempSync(path.join(os.tmpdir(), 'docroot-screenshots-'));
  const root = path.join(base, 'share');
  const when = new Date('2026-11-20T09:30:00Z');
  const files = {
    'photos/.keep': '',
    'reports/2026/q3.pdf': Buffer.alloc(412_000, 1),
    'src/server.ts': 'export {};\n',
    'music/theme.ogg': Buffer.alloc(3_200_000, 2),
    'README.md':
      '# Team share\n\nDrop files here, or download the whole folder as **zip** or **tar.gz**.\n\n' +
      '- Reports live in [reports/](reports/)\n- Photos of the offsite in [photos/](photos/)\n\n' +
      '```sh\ncurl -OJ "http://localhost:8080/?download=zip"\n```\n',
    'budget.csv': 'item,amount\nchairs,420\n',
    'holiday.jpg': Buffer.alloc(2_450_000, 3),
    'notes.txt': 'Remember the milk.\n',
    'slides.pdf': Buffer.alloc(1_250_000, 4),
    'archive.tar.gz': Buffer.alloc(18_500_000, 5),
    'video.mp4': Buffer.alloc(640_000, 6),
  };
  for (const [name, contents] of Object.entries(files)) {
    const file = path.join(root, name);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, contents);
    utimesSync(file, when, when);
  }
  for (const folder of ['photos', 'reports/2026', 'reports', 'src', 'music']) {
    utimesSync(path.join(root, folder), when, when);
  }
  return { base, root };
}

const { base, root } = makeDemoFolder();
const server = createServer({ root, port: 0, host: '127.0.0.1', upload: {} });
const { port } = await server.listen();
const url = `http://127.0.0.1:${port}/`;
const browser = await chromium.launch({
  executablePath: CHROMIUM,
  headless: true,
  // The tests' flags (test/helpers/chromium-flags.json): no background networking on a closed network.
  args: JSON.parse(readFileSync(new URL('../test/helpers/chromium-flags.json', import.meta.url), 'utf8')),
});
try {
  mkdirSync(OUT, { recursive: true });
  for (const colorScheme of ['light', 'dark']) {
    const context = await browser.newContext({ viewport: VIEWPORT, colorScheme, timezoneId: 'UTC' });
    const page = await context.newPage();
    await page.goto(url);
    await page.locator('#listing input[name=select]').nth(4).check();
    await page.locator('#listing input[name=select]').nth(6).check();
    await page.screenshot({ path: path.join(OUT, `listing-${colorScheme}.png`), fullPage: true });
    await context.close();
  }
  const context = await browser.newContext({ viewport: VIEWPORT, timezoneId: 'UTC' });
  const page = await context.newPage();
  await page.goto(url);
  const devtools = await context.newCDPSession(page);
  await devtools.send('Network.enable');
  await devtools.send('Network.emulateNetworkConditions', {
    offline: false,
    latency: 20,
    downloadThroughput: -1,
    uploadThroughput: THROTTLED_UPLOAD_BYTES_PER_SECOND,
  });
  await page.locator('#upload-files').setInputFiles([
    { name: 'offsite-photos.zip', mimeType: 'application/zip', buffer: Buffer.alloc(6_000_000, 7) },
    { name: 'minutes.txt', mimeType: 'text/plain', buffer: Buffer.alloc(2_000_000, 8) },
  ]);
  await page.locator('#upload button[type=submit]').click();
  await page.waitForFunction(() => {
    const bar = document.querySelector('#transfers progress');
    return bar instanceof HTMLProgressElement && bar.value > 0.3;
  });
  await page.screenshot({ path: path.join(OUT, 'upload-progress.png'), fullPage: true });
  await context.close();
  console.log(`screenshots: wrote listing-light.png, listing-dark.png, upload-progress.png to ${OUT}`);
} finally {
  await browser.close();
  await server.close(0);
  rmSync(base, { recursive: true, force: true });
}
