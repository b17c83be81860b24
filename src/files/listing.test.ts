import assert from 'node:assert/strict';
import { closeSync, openSync } from 'node:fs';
import { mkdir, mkdtemp, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { renderListing } from './listing.js';
import { compareListingNames } from './listing-order.js';
import {
  formatSize,
  LISTING_CONTENT_TYPES,
  type ListingOptions,
  parseListingQuery,
} from './listing-types.js';

/** Files in the large-folder test: the size the brief says must stream without blocking. */
const LARGE_FOLDER_ENTRY_COUNT = 100_000;
/** Entries in the backpressure folder: enough that the whole HTML document is several MB. */
const BACKPRESSURE_FOLDER_ENTRY_COUNT = 20_000;
/** The most a paused listing may buffer ahead of its consumer. */
const BACKPRESSURE_BUFFER_LIMIT_BYTES = 300 * 1024;
/**
 * Thread-pool round trips the paused consumer waits for the stream to (wrongly) fill itself: more than
 * the folder's stat batches of 256 (about 80), so a producer ignoring backpressure would be done by then.
 */
const PRODUCER_CHANCES = 100;

const temporaryDirectories: string[] = [];

async function makeTemporaryDirectory(): Promise<string> {
  const directory = await mkdtemp(join(tmpdir(), 'docroot-listing-'));
  temporaryDirectories.push(directory);
  return directory;
}

after(async () => {
  await Promise.all(temporaryDirectories.map((directory) => rm(directory, { recursive: true, force: true })));
});

async function readAll(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) {
    assert.ok(Buffer.isBuffer(chunk), 'the listing stream yields Buffers');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function listing(
  options: Partial<ListingOptions> & Pick<ListingOptions, 'dirPath' | 'format'>,
): Promise<string> {
  return readAll(renderListing({ urlPath: '/', ...options }));
}

function decodeHtmlEntities(text: string): string {
  return text.replace(/&(amp|lt|gt|quot|#39);/g, (_entity, name: string) => {
    switch (name) {
      case 'amp':
        return '&';
      case 'lt':
        return '<';
      case 'gt':
        return '>';
      case 'quot':
        return '"';
      default:
        return "'";
    }
  });
}

interface HtmlRow {
  rowClass: string;
  href: string;
  text: string;
  sizeCell: string;
}

function htmlRows(html: string): HtmlRow[] {
  const rowPattern =
    /<tr class="(dir|file)">(?:<td class="select">.*?<\/td>)?<td class="name"><a class="name" href="([^"]*)"><svg class="icon"[^>]*><use href="#i-[a-z]+"\/><\/svg>([^<]*)<\/a><\/td><td class="size"[^>]*>([^<]*)<\/td>/g;
  return [...html.matchAll(rowPattern)].map((match) => ({
    rowClass: match[1] ?? '',
    href: match[2] ?? '',
    text: match[3] ?? '',
    sizeCell: match[4] ?? '',
  }));
}

interface JsonEntry {
  name: string;
  type: 'file' | 'directory';
  size: number | null;
  mtime: string | null;
}

/** Seconds since the epoch for a fixed UTC date, for utimes. */
function epochSeconds(iso: string): number {
  return Date.parse(iso) / 1000;
}

describe('renderListing on a mixed folder', () => {
  let dirPath = '';

  before(async () => {
    dirPath = await makeTemporaryDirectory();
    await writeFile(join(dirPath, 'b.txt'), 'x'.repeat(12));
    await writeFile(join(dirPath, 'A.txt'), 'x'.repeat(2048));
    await writeFile(join(dirPath, 'c.bin'), Buffer.alloc(3 * 1024 * 1024 + 100));
    await mkdir(join(dirPath, 'zeta'));
    await mkdir(join(dirPath, 'Alpha'));
    await writeFile(join(dirPath, '.hidden'), 'secret');
    await mkdir(join(dirPath, '.git'));
    await symlink(join(dirPath, 'zeta'), join(dirPath, 'link-to-dir'));
    await symlink(join(dirPath, 'does-not-exist'), join(dirPath, 'broken-link'));
    await utimes(
      join(dirPath, 'b.txt'),
      epochSeconds('2026-11-25T01:16:32Z'),
      epochSeconds('2026-11-25T01:16:32Z'),
    );
  });

  it('text: folders first, each by name, folders with a trailing slash, one per line', async () => {
    const text = await listing({ dirPath, format: 'text' });
    assert.equal(text, 'Alpha/\nlink-to-dir/\nzeta/\nA.txt\nb.txt\nbroken-link\nc.bin\n');
  });

  it('json: a valid array with types, sizes and ISO times', async () => {
    const entries = JSON.parse(await listing({ dirPath, format: 'json' })) as JsonEntry[];
    assert.deepEqual(
      entries.map((entry) => [entry.name, entry.type]),
      [
        ['Alpha', 'directory'],
        ['link-to-dir', 'directory'],
        ['zeta', 'directory'],
        ['A.txt', 'file'],
        ['b.txt', 'file'],
        ['broken-link', 'file'],
        ['c.bin', 'file'],
      ],
    );
    const bFile = entries.find((entry) => entry.name === 'b.txt');
    assert.deepEqual(bFile, { name: 'b.txt', type: 'file', size: 12, mtime: '2026-11-25T01:16:32.000Z' });
    assert.equal(entries.find((entry) => entry.name === 'A.txt')?.size, 2048);
    assert.equal(entries.find((entry) => entry.name === 'zeta')?.size, null);
  });

  it('html: a complete, phone-friendly document with rows, sizes, times and sort links', async () => {
    const html = await listing({
      dirPath,
      format: 'html',
      urlPath: '/files/',
      serverSoftware: 'docroot/0.1.0',
    });
    assert.ok(html.startsWith('<!doctype html>'));
    assert.ok(html.includes('<meta name="viewport" content="width=device-width, initial-scale=1">'));
    assert.ok(html.includes('<title>Index of /files/</title>'));
    assert.ok(html.includes('<table id="listing">'));
    assert.ok(html.includes('<a class="parent" href="../">../</a>'));
    assert.ok(html.trimEnd().endsWith('</html>'));
    assert.ok(html.includes('docroot/0.1.0'));
    assert.ok(!/<(link|img|iframe|object)\b/i.test(html), 'no external assets');
    assert.ok(!/<script\b[^>]*\bsrc=/i.test(html), 'only inline script');
    assert.ok(!/\b(src|href)="(https?:)?\/\//i.test(html), 'nothing from another origin');

    const rows = htmlRows(html);
    assert.deepEqual(
      rows.map((row) => [row.rowClass, row.href, row.text]),
      [
        ['dir', 'Alpha/', 'Alpha/'],
        ['dir', 'link-to-dir/', 'link-to-dir/'],
        ['dir', 'zeta/', 'zeta/'],
        ['file', 'A.txt', 'A.txt'],
        ['file', 'b.txt', 'b.txt'],
        ['file', 'broken-link', 'broken-link'],
        ['file', 'c.bin', 'c.bin'],
      ],
    );
    const sizes = Object.fromEntries(rows.map((row) => [row.text, row.sizeCell]));
    assert.equal(sizes['Alpha/'], '0 items');
    assert.ok(html.includes('<td class="size" data-bytes="2048" title="2,048 bytes">2.0 KiB</td>'));
    assert.equal(sizes['b.txt'], '12 B');
    assert.equal(sizes['A.txt'], '2.0 KiB');
    assert.equal(sizes['c.bin'], '3.0 MiB');
    assert.ok(
      html.includes(
        '<time datetime="2026-11-25T01:16:32.000Z" title="2026-11-25 01:16:32 UTC">2026-11-25 01:16</time>',
      ),
    );
    const uncounted = await listing({ dirPath, format: 'html', urlPath: '/', folderCounts: false });
    assert.equal(
      Object.fromEntries(htmlRows(uncounted).map((row) => [row.text, row.sizeCell]))['Alpha/'],
      '\u2014',
    );

    // Sorted by name ascending: the Name header toggles to descending, the others start ascending.
    assert.ok(html.includes('href="?sort=name&amp;order=desc"'));
    assert.ok(html.includes('href="?sort=size&amp;order=asc"'));
    assert.ok(html.includes('href="?sort=time&amp;order=asc"'));
    const bySizeAscending = await listing({ dirPath, format: 'html', sort: 'size', order: 'asc' });
    assert.ok(bySizeAscending.includes('href="?sort=size&amp;order=desc"'));
    assert.ok(bySizeAscending.includes('href="?sort=name&amp;order=asc"'));
  });

  it('html: breadcrumb links every ancestor relatively; no parent link at the root', async () => {
    const nested = await listing({ dirPath, format: 'html', urlPath: '/a b/c%d/e/' });
    assert.ok(
      nested.includes(
        '<a class="crumb" href="../../../">/</a><a class="crumb" href="../../">a b/</a>' +
          '<a class="crumb" href="../">c%d/</a><span class="crumb" aria-current="page">e/</span>',
      ),
    );
    const root = await listing({ dirPath, format: 'html', urlPath: '/' });
    assert.ok(!root.includes('class="parent"'));
    assert.ok(root.includes('<span class="crumb" aria-current="page">/</span>'));
  });

  it('dotfiles are hidden by default and shown with showDotfiles', async () => {
    const hidden = await listing({ dirPath, format: 'text' });
    assert.ok(!hidden.includes('.hidden') && !hidden.includes('.git'));
    const shown = await listing({ dirPath, format: 'text', showDotfiles: true });
    assert.equal(shown, '.git/\nAlpha/\nlink-to-dir/\nzeta/\n.hidden\nA.txt\nb.txt\nbroken-link\nc.bin\n');
  });

  it('sorts by name descending with folders still first', async () => {
    const text = await listing({ dirPath, format: 'text', order: 'desc' });
    assert.equal(text, 'zeta/\nlink-to-dir/\nAlpha/\nc.bin\nbroken-link\nb.txt\nA.txt\n');
  });
});

describe('renderListing sorting by size and time', () => {
  let dirPath = '';

  before(async () => {
    dirPath = await makeTemporaryDirectory();
    const files: Array<[string, number, string]> = [
      ['small.txt', 1, '2024-01-01T00:00:00Z'],
      ['large.txt', 5000, '2022-01-01T00:00:00Z'],
      ['medium.txt', 300, '2025-06-01T00:00:00Z'],
    ];
    for (const [name, size, time] of files) {
      await writeFile(join(dirPath, name), Buffer.alloc(size));
      await utimes(join(dirPath, name), epochSeconds(time), epochSeconds(time));
    }
    await mkdir(join(dirPath, 'old-dir'));
    await utimes(
      join(dirPath, 'old-dir'),
      epochSeconds('2020-01-01T00:00:00Z'),
      epochSeconds('2020-01-01T00:00:00Z'),
    );
    await mkdir(join(dirPath, 'new-dir'));
    await utimes(
      join(dirPath, 'new-dir'),
      epochSeconds('2026-01-01T00:00:00Z'),
      epochSeconds('2026-01-01T00:00:00Z'),
    );
  });

  const cases: Array<[ListingOptions['sort'], ListingOptions['order'], string]> = [
    ['size', 'asc', 'new-dir/\nold-dir/\nsmall.txt\nmedium.txt\nlarge.txt\n'],
    ['size', 'desc', 'new-dir/\nold-dir/\nlarge.txt\nmedium.txt\nsmall.txt\n'],
    ['time', 'asc', 'old-dir/\nnew-dir/\nlarge.txt\nsmall.txt\nmedium.txt\n'],
    ['time', 'desc', 'new-dir/\nold-dir/\nmedium.txt\nsmall.txt\nlarge.txt\n'],
  ];
  for (const [sort, order, expected] of cases) {
    it(`sort=${sort} order=${order}`, async () => {
      assert.equal(await listing({ dirPath, format: 'text', sort, order }), expected);
    });
  }

  it('json and html follow the same order', async () => {
    const entries = JSON.parse(
      await listing({ dirPath, format: 'json', sort: 'size', order: 'desc' }),
    ) as JsonEntry[];
    assert.deepEqual(
      entries.map((entry) => entry.name),
      ['new-dir', 'old-dir', 'large.txt', 'medium.txt', 'small.txt'],
    );
    const html = await listing({ dirPath, format: 'html', sort: 'time', order: 'desc' });
    assert.deepEqual(
      htmlRows(html).map((row) => row.text),
      ['new-dir/', 'old-dir/', 'medium.txt', 'small.txt', 'large.txt'],
    );
    assert.ok(html.includes('href="?sort=time&amp;order=asc"'));
  });
});

describe('renderListing with tricky names', () => {
  const trickyFiles = [
    '<script>.html',
    'a b.txt',
    '100%.txt',
    'na\u00efve caf\u00e9.txt',
    '\u65e5\u672c\u8a9e.txt',
    '#hash.txt',
    '?.txt',
    `"quoted" & 'single'.txt`,
    'emoji \u{1F600}.txt',
  ];
  const trickyFolders = ['sub%dir', 'dir <b>'];
  let dirPath = '';

  before(async () => {
    dirPath = await makeTemporaryDirectory();
    for (const name of trickyFiles) await writeFile(join(dirPath, name), 'x');
    for (const name of trickyFolders) await mkdir(join(dirPath, name));
  });

  it('html: every name is escaped and every href decodes back to the exact name', async () => {
    const html = await listing({ dirPath, format: 'html', urlPath: '/<odd> & 100%/' });
    // The page's own inline script is the only script element (one for reading, none for writes here).
    assert.equal(html.split('<script>').length - 1, 1, 'no raw markup from names');
    assert.ok(html.includes('&lt;script&gt;.html'));
    assert.ok(html.includes('<title>Index of /&lt;odd&gt; &amp; 100%/</title>'));
    assert.ok(html.includes('href="sub%25dir/"'));
    assert.ok(html.includes('href="a%20b.txt"'));

    const rows = htmlRows(html);
    assert.equal(rows.length, trickyFiles.length + trickyFolders.length);
    const namesFromHrefs = new Set<string>();
    for (const row of rows) {
      const suffix = row.rowClass === 'dir' ? '/' : '';
      const href = decodeHtmlEntities(row.href);
      assert.ok(href.endsWith(suffix));
      assert.ok(!href.slice(0, href.length - suffix.length).includes('/'), 'one segment, relative');
      assert.ok(!/[#?\s]/.test(href), `href ${href} has no fragment, query or spaces`);
      const name = decodeURIComponent(href.slice(0, href.length - suffix.length));
      assert.equal(decodeHtmlEntities(row.text), name + suffix);
      // Resolving against the folder's URL must land on the same name.
      const resolved = new URL(href, 'http://example.test/base/');
      assert.equal(decodeURIComponent(resolved.pathname), `/base/${name}${suffix}`);
      namesFromHrefs.add(name);
    }
    assert.deepEqual(namesFromHrefs, new Set([...trickyFiles, ...trickyFolders]));
  });

  it('json and text keep names exactly', async () => {
    const entries = JSON.parse(await listing({ dirPath, format: 'json' })) as JsonEntry[];
    assert.deepEqual(
      new Set(entries.map((entry) => entry.name)),
      new Set([...trickyFiles, ...trickyFolders]),
    );
    const lines = (await listing({ dirPath, format: 'text' })).split('\n');
    assert.equal(lines.pop(), '');
    assert.deepEqual(new Set(lines), new Set([...trickyFiles, ...trickyFolders.map((name) => `${name}/`)]));
  });
});

describe('renderListing edge cases', () => {
  it('an empty folder gives an empty text body, an empty JSON array and an empty table', async () => {
    const dirPath = await makeTemporaryDirectory();
    assert.equal(await listing({ dirPath, format: 'text' }), '');
    assert.deepEqual(JSON.parse(await listing({ dirPath, format: 'json' })), []);
    const html = await listing({ dirPath, format: 'html', urlPath: '/empty/' });
    assert.equal(htmlRows(html).length, 0);
    assert.ok(html.includes('<table id="listing">') && html.includes('</table>'));
    assert.ok(html.includes('0 folders, 0 files'));
  });

  it('a folder that cannot be read destroys the stream with the error', async () => {
    const dirPath = await makeTemporaryDirectory();
    await assert.rejects(listing({ dirPath: join(dirPath, 'missing'), format: 'html' }), { code: 'ENOENT' });
    await writeFile(join(dirPath, 'plain-file'), 'x');
    const stream = renderListing({ dirPath: join(dirPath, 'plain-file'), urlPath: '/', format: 'json' });
    await assert.rejects(readAll(stream), { code: 'ENOTDIR' });
    assert.ok(stream.destroyed);
  });
});

/** Skipped by `npm run test:fast` (see test/helpers/stress.ts): 100,000 files take a while to make. */
const STRESS = process.env.DOCROOT_TEST_FAST === '1' ? { skip: 'a long stress part: npm test runs it' } : {};

describe('renderListing on large folders', STRESS, () => {
  let largeDirPath = '';
  let backpressureDirPath = '';

  before(async () => {
    largeDirPath = await makeTemporaryDirectory();
    for (let index = 0; index < LARGE_FOLDER_ENTRY_COUNT; index++) {
      closeSync(openSync(join(largeDirPath, `file-${index}.txt`), 'w'));
    }
    backpressureDirPath = await makeTemporaryDirectory();
    for (let index = 0; index < BACKPRESSURE_FOLDER_ENTRY_COUNT; index++) {
      closeSync(openSync(join(backpressureDirPath, `entry-number-${index}.dat`), 'w'));
    }
  });

  it('streams 100,000 entries as valid JSON while the event loop keeps turning', async () => {
    let ticks = 0;
    let ticking = true;
    const tick = (): void => {
      ticks++;
      if (ticking) setImmediate(tick);
    };
    setImmediate(tick);
    let chunkCount = 0;
    const chunks: Buffer[] = [];
    for await (const chunk of renderListing({ dirPath: largeDirPath, urlPath: '/', format: 'json' })) {
      chunkCount++;
      chunks.push(chunk as Buffer);
    }
    ticking = false;
    const entries = JSON.parse(Buffer.concat(chunks).toString('utf8')) as JsonEntry[];
    assert.equal(entries.length, LARGE_FOLDER_ENTRY_COUNT);
    assert.ok(entries.every((entry) => entry.type === 'file' && entry.size === 0));
    // Sorted in runs and merged while streaming: the merged order must still be the full name order.
    const names = entries.map((entry) => entry.name);
    assert.deepEqual(names, [...names].sort(compareListingNames));
    assert.equal(new Set(names).size, LARGE_FOLDER_ENTRY_COUNT);
    assert.ok(chunkCount > 100, `output arrived in pieces (${chunkCount} chunks)`);
    // One batch of 256 stats at a time means hundreds of batches, each of which lets the loop turn.
    assert.ok(ticks > 100, `event loop turned ${ticks} times during the listing`);
  });

  it('merges many sorted runs in descending order too', async () => {
    const text = await listing({ dirPath: backpressureDirPath, format: 'text', order: 'desc' });
    const lines = text.split('\n').slice(0, -1);
    assert.equal(lines.length, BACKPRESSURE_FOLDER_ENTRY_COUNT);
    assert.deepEqual(
      lines,
      [...lines].sort((left, right) => compareListingNames(right, left)),
    );
  });

  it('a slow consumer holds the stream back instead of buffering the whole listing', async () => {
    const stream = renderListing({ dirPath: backpressureDirPath, urlPath: '/big/', format: 'html' });
    let bytesRead = 0;
    for (let reads = 0; reads < 3; ) {
      const chunk = stream.read() as Buffer | null;
      if (chunk === null) {
        await new Promise((resolve) => stream.once('readable', resolve));
        continue;
      }
      bytesRead += chunk.length;
      reads++;
    }
    // Give a misbehaving producer every chance to run ahead while nobody reads: the thread pool runs
    // requests in order, so each stat queued here completes after whatever the producer queued before it.
    for (let round = 0; round < PRODUCER_CHANCES; round++) {
      await stat(backpressureDirPath);
      await new Promise((resolve) => setImmediate(resolve));
    }
    assert.ok(
      stream.readableLength < BACKPRESSURE_BUFFER_LIMIT_BYTES,
      `buffered ${stream.readableLength} bytes while paused`,
    );
    assert.ok(!stream.readableEnded);

    // The rest is still all there once reading resumes, and is far larger than what was buffered.
    const rest = await readAll(stream);
    const totalBytes = bytesRead + Buffer.byteLength(rest);
    assert.ok(totalBytes > 4 * BACKPRESSURE_BUFFER_LIMIT_BYTES, `whole document is ${totalBytes} bytes`);
    assert.equal((rest.match(/<tr class="file">/g) ?? []).length > 0, true);
  });
});

describe('parseListingQuery', () => {
  const cases: Array<[string, ReturnType<typeof parseListingQuery>]> = [
    ['', {}],
    ['format=json', { format: 'json' }],
    ['?format=text', { format: 'text' }],
    ['format=html&sort=size&order=desc', { format: 'html', sort: 'size', order: 'desc' }],
    ['sort=time', { sort: 'time' }],
    ['sort=name&order=asc', { sort: 'name', order: 'asc' }],
    ['format=xml&sort=colour&order=up', {}],
    ['format=JSON&sort=Size', { format: 'json', sort: 'size' }],
    ['format=json&format=xml', { format: 'json' }],
    ['format=text&format=json', { format: 'json' }],
    ['other=1&order=desc&x', { order: 'desc' }],
    ['format%3Djson', {}],
    ['sort=size%20', { sort: 'size' }],
  ];
  for (const [query, expected] of cases) {
    it(`${JSON.stringify(query)} → ${JSON.stringify(expected)}`, () => {
      assert.deepEqual(parseListingQuery(query), expected);
    });
  }
});

describe('listing helpers', () => {
  it('content types per format', () => {
    assert.deepEqual(LISTING_CONTENT_TYPES, {
      html: 'text/html; charset=utf-8',
      text: 'text/plain; charset=utf-8',
      json: 'application/json; charset=utf-8',
    });
  });

  it('formatSize uses B, then binary units with one decimal', () => {
    assert.equal(formatSize(0), '0 B');
    assert.equal(formatSize(1023), '1023 B');
    assert.equal(formatSize(1024), '1.0 KiB');
    assert.equal(formatSize(1536), '1.5 KiB');
    assert.equal(formatSize(1024 * 1024 - 1), '1.0 MiB');
    assert.equal(formatSize(5 * 1024 ** 3), '5.0 GiB');
  });

  it('names compare case-insensitively, then by code point, independent of locale', () => {
    const names = ['b.txt', '\u{1F600}', 'B.txt', '\uFF21', 'a.txt', 'caf\u00e9', 'cafe', 'Z', '\u00e9'];
    assert.deepEqual([...names].sort(compareListingNames), [
      'a.txt',
      'B.txt',
      'b.txt',
      'cafe',
      'caf\u00e9',
      'Z',
      '\u00e9',
      '\uFF21',
      '\u{1F600}',
    ]);
  });
});
