/**
 * The README below a listing and `?view=rendered`, over real sockets: which file is chosen, that raw HTML
 * never passes, that the README obeys the path rules and `--auth` like a request for it, that
 * `readme: false` (`--no-readme`) turns it off, and that a plain GET of a Markdown file stays the file.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseCommandLine } from '../src/cli/args.js';
import { exchange, get } from './helpers/raw-client.js';
import { type RunningDocroot, startDocroot } from './helpers/servers.js';

async function page(server: RunningDocroot, target: string, extra = 'Accept: text/html\r\n') {
  const { responses } = await exchange(server.port, get(target, extra));
  const response = responses[0]!;
  return { status: response.status, headers: response.headers, body: response.body.toString() };
}

describe('the README below a listing', () => {
  let base: string;
  let root: string;
  let server: RunningDocroot;
  let withoutReadme: RunningDocroot;
  before(async () => {
    base = mkdtempSync(path.join(os.tmpdir(), 'docroot-readme-'));
    root = path.join(base, 'site');
    mkdirSync(path.join(root, 'both'), { recursive: true });
    mkdirSync(path.join(root, 'text'), { recursive: true });
    mkdirSync(path.join(root, 'escape'), { recursive: true });
    mkdirSync(path.join(root, 'private'), { recursive: true });
    mkdirSync(path.join(root, 'none'), { recursive: true });
    writeFileSync(path.join(root, 'README.md'), '# Top\n\n<img src=x onerror="alert(1)">\n\n[next](both/)\n');
    writeFileSync(path.join(root, 'both', 'index.md'), '# From index.md\n');
    writeFileSync(path.join(root, 'both', 'Readme.MD'), '# From Readme.MD\n');
    writeFileSync(path.join(root, 'text', 'README.txt'), 'plain <b>text</b>\n');
    writeFileSync(path.join(base, 'secret.md'), '# Outside the root\n');
    symlinkSync(path.join(base, 'secret.md'), path.join(root, 'escape', 'README.md'));
    writeFileSync(path.join(root, 'private', 'README.md'), '# Private\n');
    writeFileSync(path.join(root, 'none', 'notes.md'), '# Notes\n\n![chart](img/chart.png)\n');
    server = await startDocroot({
      root,
      auth: [
        { pathPrefix: '/', access: 'ro' },
        { user: 'pat', password: 'pw', pathPrefix: '/private/README.md', access: 'ro' },
      ],
    });
    withoutReadme = await startDocroot({ root, readme: false });
  });
  after(async () => {
    await server?.close();
    await withoutReadme?.close();
    rmSync(base, { recursive: true, force: true });
  });

  test('README.md is rendered below the table; its raw HTML is text, its links point into the folder', async () => {
    const { status, body } = await page(server, '/');
    assert.equal(status, 200);
    const table = body.indexOf('</table>');
    const readme = body.indexOf('<section id="readme"');
    assert.ok(table !== -1 && readme > table, 'the README comes after the table');
    assert.ok(body.includes('<h1>Top</h1>'));
    assert.ok(body.includes('&lt;img src=x onerror=&quot;alert(1)&quot;&gt;'));
    assert.ok(!body.includes('<img src=x'));
    assert.ok(body.includes('<a href="/both/">next</a>'));
  });

  test('README.md wins over index.md, whatever its case', async () => {
    const { body } = await page(server, '/both/');
    assert.ok(body.includes('From Readme.MD'));
    assert.ok(!body.includes('From index.md'));
  });

  test('README.txt is shown as escaped plain text', async () => {
    const { body } = await page(server, '/text/');
    assert.ok(body.includes('<pre class="readme-text">plain &lt;b&gt;text&lt;/b&gt;\n</pre>'));
  });

  test('a README that is a symlink out of the root is not shown', async () => {
    const { status, body } = await page(server, '/escape/');
    assert.equal(status, 200);
    assert.ok(!body.includes('Outside the root'));
    assert.ok(!body.includes('id="readme"'));
  });

  test('a README the request may not read is not shown', async () => {
    const anonymous = await page(server, '/private/');
    assert.equal(anonymous.status, 200);
    assert.ok(!anonymous.body.includes('<h1>Private</h1>'));
    const pat = await page(
      server,
      '/private/',
      `Accept: text/html\r\nAuthorization: Basic ${Buffer.from('pat:pw').toString('base64')}\r\n`,
    );
    assert.ok(pat.body.includes('<h1>Private</h1>'));
  });

  test('readme: false (--no-readme) leaves it out', async () => {
    const { body } = await page(withoutReadme, '/');
    assert.ok(!body.includes('id="readme"'));
    assert.ok(!body.includes('<h1>Top</h1>'));
    const flagged = parseCommandLine(['--no-readme']);
    const plain = parseCommandLine([]);
    assert.ok(flagged.kind === 'serve' && plain.kind === 'serve');
    assert.equal(flagged.options.readme, false);
    assert.equal(plain.options.readme, true);
  });

  test('?view=rendered renders a Markdown file; a plain GET stays the raw file', async () => {
    const rendered = await page(server, '/none/notes.md?view=rendered');
    assert.equal(rendered.status, 200);
    assert.equal(rendered.headers['content-type'], 'text/html; charset=utf-8');
    assert.ok(rendered.body.includes('<h1>Notes</h1>'));
    assert.ok(rendered.body.includes('src="/none/img/chart.png"'));
    const raw = await page(server, '/none/notes.md');
    assert.equal(raw.status, 200);
    assert.match(String(raw.headers['content-type']), /^text\/markdown/);
    assert.equal(raw.body, '# Notes\n\n![chart](img/chart.png)\n');
    // Asked again, the raw file is now in the hot cache; the rendered view must not come from it.
    const again = await page(server, '/none/notes.md?view=rendered');
    assert.ok(again.body.includes('<h1>Notes</h1>'));
    const other = await page(server, '/both/index.md?view=raw');
    assert.equal(other.body, '# From index.md\n');
  });
});
