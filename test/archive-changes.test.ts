/**
 * Archives of files that change while they are archived: a file cut from hundreds of megabytes to nothing
 * mid-stream is padded a piece at a time (the server's peak memory, read from the child process that runs
 * it, stays far below the file's size), a file that grows is cut at the size the walk saw, and either way
 * the real `tar` and `unzip` read the result as a valid archive.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  appendFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createTarGzStream } from '../src/archive/tar.js';
import { type ChildServer, startChildServer } from './helpers/load.js';
import { get, parseResponses } from './helpers/raw-client.js';

/** Sparse, so making it costs nothing; reading it costs only the archiving. */
const SHRINKING_BYTES = 256 * 1024 * 1024;
const MiB = 1024 * 1024;
/** Random, so archiving it takes as long as sending it. */
const INCOMPRESSIBLE = randomBytes(8 * MiB);
const CHANGE_AFTER_BYTES = MiB;

function toolMissing(command: string): string | false {
  const probe = spawnSync(command, [command === 'unzip' ? '-v' : '--version']);
  return probe.error === undefined ? false : `${command} not installed`;
}

/**
 * GETs `target`; once CHANGE_AFTER_BYTES have arrived (the server is then inside the first file, whose
 * start is incompressible so it cannot run ahead), pauses, runs `change`, and reads on to the close.
 */
function downloadChanging(port: number, target: string, change: () => void): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let received = 0;
    let changed = false;
    const socket = net.connect(port, '127.0.0.1', () => socket.write(get(target, 'Connection: close\r\n')));
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      received += chunk.length;
      if (changed || received < CHANGE_AFTER_BYTES) return;
      changed = true;
      socket.pause();
      change();
      setImmediate(() => socket.resume());
    });
    socket.on('error', () => {});
    socket.on('close', () => resolve(Buffer.concat(chunks)));
  });
}

/** The body of a chunked or Content-Length response that ran to its end. */
function completeBody(raw: Buffer): Buffer {
  const { responses } = parseResponses(raw, [], false);
  assert.equal(responses.length, 1, 'the archive response completed');
  assert.equal(responses[0]!.status, 200);
  return responses[0]!.body;
}

describe('archives of files that change meanwhile', () => {
  let base: string;
  let root: string;
  let server: ChildServer;
  before(async () => {
    base = mkdtempSync(path.join(os.tmpdir(), 'docroot-archive-changes-'));
    root = path.join(base, 'root');
    mkdirSync(root);
    server = await startChildServer({ root });
  });
  after(async () => {
    await server?.stop();
    rmSync(base, { recursive: true, force: true });
  });

  test('tar.gz: a file cut to nothing mid-stream is padded in pieces, and tar reads the archive', async (t) => {
    const missing = toolMissing('tar');
    if (missing) return t.skip(missing);
    const dir = path.join(root, 'shrinks');
    mkdirSync(dir);
    const file = path.join(dir, 'big.bin');
    writeFileSync(file, INCOMPRESSIBLE);
    truncateSync(file, SHRINKING_BYTES);
    writeFileSync(path.join(dir, 'zz-after.txt'), 'the member after it');
    const before = await server.stats();
    const raw = await downloadChanging(server.port, '/shrinks/?download=tar.gz', () => truncateSync(file, 0));
    const body = completeBody(raw);
    const peak = (await server.stats()).peakRss;
    t.diagnostic(`peak RSS ${Math.round(before.peakRss / MiB)} → ${Math.round(peak / MiB)} MiB`);
    assert.ok(
      peak - before.peakRss < 128 * MiB,
      `peak RSS grew by ${Math.round((peak - before.peakRss) / MiB)} MiB`,
    );
    const work = mkdtempSync(path.join(base, 'tar-'));
    writeFileSync(path.join(work, 'a.tar.gz'), body);
    const listed = spawnSync('tar', ['-tvzf', 'a.tar.gz'], { cwd: work, encoding: 'utf8' });
    assert.equal(listed.status, 0, listed.stderr);
    assert.match(listed.stdout, new RegExp(`${SHRINKING_BYTES} .*big\\.bin`));
    const extracted = spawnSync('tar', ['-xzf', 'a.tar.gz', 'shrinks/zz-after.txt', '-O'], {
      cwd: work,
      encoding: 'utf8',
    });
    assert.equal(extracted.stdout, 'the member after it');
  });

  test('tar.gz and zip: a file that grows meanwhile is cut at the size the walk saw; both archives are valid', async (t) => {
    const missing = toolMissing('tar') || toolMissing('unzip');
    if (missing) return t.skip(missing);
    const dir = path.join(root, 'grows');
    mkdirSync(dir);
    const file = path.join(dir, 'log.txt');
    const original = INCOMPRESSIBLE;
    for (const format of ['tar.gz', 'zip'] as const) {
      writeFileSync(file, original);
      const raw = await downloadChanging(server.port, `/grows/?download=${format}`, () =>
        appendFileSync(file, Buffer.alloc(4 * MiB, 0x62)),
      );
      const work = mkdtempSync(path.join(base, `${format}-`));
      writeFileSync(path.join(work, `a.${format}`), completeBody(raw));
      const out = path.join(work, 'out');
      mkdirSync(out);
      const result =
        format === 'zip'
          ? spawnSync('unzip', ['-q', 'a.zip', '-d', 'out'], { cwd: work, encoding: 'utf8' })
          : spawnSync('tar', ['-xzf', 'a.tar.gz', '-C', 'out'], { cwd: work, encoding: 'utf8' });
      assert.equal(result.status, 0, `${format}: ${result.stderr}`);
      const inner = path.join('grows', 'log.txt');
      assert.ok(
        readFileSync(path.join(out, inner)).equals(original),
        `${format}: exactly the original bytes`,
      );
    }
  });

  test('zip: a file cut mid-stream gives a valid zip whose entry says what was read', async (t) => {
    const missing = toolMissing('unzip');
    if (missing) return t.skip(missing);
    const dir = path.join(root, 'zip-shrinks');
    mkdirSync(dir);
    const file = path.join(dir, 'big.bin');
    writeFileSync(file, Buffer.concat([INCOMPRESSIBLE, INCOMPRESSIBLE]));
    const raw = await downloadChanging(server.port, '/zip-shrinks/?download=zip', () =>
      truncateSync(file, MiB),
    );
    const work = mkdtempSync(path.join(base, 'zip-'));
    writeFileSync(path.join(work, 'a.zip'), completeBody(raw));
    const tested = spawnSync('unzip', ['-t', 'a.zip'], { cwd: work, encoding: 'utf8' });
    assert.equal(tested.status, 0, tested.stdout + tested.stderr);
  });

  test('tar.gz writer: a file the walk saw at 256 MiB but now empty is padded without holding its size in memory', async () => {
    const file = path.join(base, 'now-empty.bin');
    writeFileSync(file, '');
    const claimed = SHRINKING_BYTES;
    const archive = createTarGzStream(
      (async function* () {
        yield {
          name: 'now-empty.bin',
          absolutePath: file,
          isDirectory: false,
          size: claimed,
          mtime: new Date(),
          mode: 0o644,
        };
      })(),
    );
    const start = process.memoryUsage().arrayBuffers;
    let peak = start;
    let compressed = 0;
    for await (const chunk of archive as AsyncIterable<Buffer>) {
      compressed += chunk.length;
      peak = Math.max(peak, process.memoryUsage().arrayBuffers);
    }
    assert.ok(compressed > 0);
    // One padding piece (1 MiB) and zlib's buffers, not the 256 MiB the file lacks.
    assert.ok(
      peak - start < 32 * MiB,
      `buffers peaked ${Math.round((peak - start) / MiB)} MiB above the start`,
    );
  });
});
