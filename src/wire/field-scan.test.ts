import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { seededRandom } from '../../test/helpers/seeded.js';
import { IS_TCHAR } from './chars.js';
import {
  fieldNameHash,
  fieldScanAvailable,
  LINE_SLOTS,
  scanFieldLines,
  scannedFieldLines,
  scannedHeadEnd,
  scannedNameLengths,
} from './field-scan.js';

const CR = 0x0d;
const LF = 0x0a;

interface Scanned {
  lines: number[][];
  end: number;
  nameLengths: number;
}

/**
 * The rules field-scan.wat implements, one byte at a time and with nothing clever: the lines up to the
 * empty line, each a token, a colon, OWS and value bytes (HTAB, SP, VCHAR, obs-text) up to CRLF; null for
 * anything else (a bad line, no end, more than `maxLines`).
 */
function referenceScan(bytes: Buffer, from: number, base: number, maxLines: number): Scanned | null {
  const lines: number[][] = [];
  let nameLengths = 0;
  let pos = from;
  for (;;) {
    if (pos + 1 >= bytes.length) return null;
    if (bytes[pos] === CR) {
      return bytes[pos + 1] === LF ? { lines, end: pos + 2 - base, nameLengths } : null;
    }
    if (lines.length >= maxLines) return null;
    let p = pos;
    while (p < bytes.length && IS_TCHAR[bytes[p]!] === 1) p++;
    if (p === bytes.length || p === pos || bytes[p] !== 0x3a) return null;
    const colon = p++;
    while (p < bytes.length && (bytes[p] === 0x20 || bytes[p] === 0x09)) p++;
    const valueStart = p;
    while (p < bytes.length && (bytes[p] === 0x09 || (bytes[p]! >= 0x20 && bytes[p] !== 0x7f))) p++;
    if (p + 1 >= bytes.length || bytes[p] !== CR || bytes[p + 1] !== LF) return null;
    let valueEnd = p;
    while (valueEnd > valueStart && (bytes[valueEnd - 1] === 0x20 || bytes[valueEnd - 1] === 0x09))
      valueEnd--;
    const name = bytes.toString('latin1', pos, colon);
    lines.push([pos - base, colon - base, valueStart - base, valueEnd - base, fieldNameHash(name)]);
    nameLengths |= 1 << Math.min(colon - pos, 31);
    pos = p + 2;
  }
}

function wasmScan(bytes: Buffer, from: number, base: number, maxLines: number): Scanned | null {
  const count = scanFieldLines(bytes, from, base, maxLines);
  if (count < 0) return null;
  const lines: number[][] = [];
  for (let k = 0; k < count; k++) {
    lines.push(Array.from(scannedFieldLines.subarray(k * LINE_SLOTS, (k + 1) * LINE_SLOTS)));
  }
  return { lines, end: scannedHeadEnd(), nameLengths: scannedNameLengths() };
}

/** A byte that is usually harmless and sometimes one each rule is about. */
function valueByte(random: () => number): number {
  const r = random();
  if (r < 0.9) return 0x21 + Math.floor(random() * 94);
  const special = [0x00, 0x01, 0x09, 0x0a, 0x0d, 0x1f, 0x20, 0x7f, 0x80, 0xff, 0x3a];
  return special[Math.floor(random() * special.length)]!;
}

function randomHead(random: () => number): Buffer {
  const parts: Buffer[] = [Buffer.from('GET / HTTP/1.1\r\n')];
  const lines = Math.floor(random() * 14);
  for (let i = 0; i < lines; i++) {
    const nameLength = 1 + Math.floor(random() * 20);
    const name = Buffer.alloc(nameLength);
    for (let j = 0; j < nameLength; j++) {
      name[j] = random() < 0.97 ? 'abcXYZ-_09!~'.charCodeAt(Math.floor(random() * 12)) : valueByte(random);
    }
    const valueLength = Math.floor(random() * (random() < 0.1 ? 400 : 60));
    const value = Buffer.alloc(valueLength);
    for (let j = 0; j < valueLength; j++) value[j] = valueByte(random);
    const ows = [' ', '', '\t', '  '][Math.floor(random() * 4)]!;
    parts.push(name, Buffer.from(`:${ows}`), value, Buffer.from(random() < 0.98 ? '\r\n' : '\n'));
  }
  parts.push(Buffer.from('\r\n'));
  if (random() < 0.3) parts.push(Buffer.from('GET /next HTTP/1.1\r\nHost: a\r\n\r\n'));
  const head = Buffer.concat(parts);
  // Sometimes cut short, as a head still arriving is.
  return random() < 0.15 ? head.subarray(0, Math.floor(random() * head.length)) : head;
}

describe('field-scan (WebAssembly)', () => {
  test('is available on this runtime', () => {
    // Node 20 and later always have WebAssembly SIMD; without it every head would take the exact path.
    assert.equal(fieldScanAvailable, true);
  });

  test('without WebAssembly (node --jitless) heads are parsed by the exact rules alone, with the same result', () => {
    const parser = new URL('./parser.js', import.meta.url).href;
    const limits = new URL('./limits.js', import.meta.url).href;
    const scan = new URL('./field-scan.js', import.meta.url).href;
    const script = `
      const { parseRequestHead } = await import(${JSON.stringify(parser)});
      const { DEFAULT_LIMITS } = await import(${JSON.stringify(limits)});
      const { fieldScanAvailable } = await import(${JSON.stringify(scan)});
      const ok = parseRequestHead(Buffer.from('GET /a HTTP/1.1\\r\\nHost: h\\r\\nAccept-Encoding:  br \\r\\n\\r\\n'), DEFAULT_LIMITS);
      const bad = parseRequestHead(Buffer.from('GET /a HTTP/1.1\\r\\nHost: h\\r\\nX: a\\x7fb\\r\\n\\r\\n', 'latin1'), DEFAULT_LIMITS);
      console.log(JSON.stringify({
        fieldScanAvailable,
        ok: ok.kind === 'complete' ? { ...ok.head.headers } : ok.kind,
        bad: bad.kind === 'error' ? bad.error.status : bad.kind,
      }));`;
    const result = spawnSync(process.execPath, ['--jitless', '--input-type=module', '-e', script], {
      encoding: 'utf8',
    });
    assert.equal(result.status, 0, result.stderr);
    assert.deepEqual(JSON.parse(result.stdout), {
      fieldScanAvailable: false,
      ok: { host: 'h', 'accept-encoding': 'br' },
      bad: 400,
    });
  });

  test('the committed module is what field-scan.wat assembles to', () => {
    const script = fileURLToPath(new URL('../../../scripts/build-field-scan.js', import.meta.url));
    const result = spawnSync(process.execPath, [script, '--check'], { encoding: 'utf8' });
    assert.equal(result.status, 0, result.stderr);
  });

  test('finds the lines, values without OWS, name hashes and name lengths of a head', () => {
    const raw = Buffer.from(
      'xxGET / HTTP/1.1\r\nHost: a\r\nAccept-Encoding:  gzip, br \t\r\nX-Empty:\r\n\r\nrest',
      'latin1',
    );
    const scanned = wasmScan(raw, 18, 2, 100);
    assert.deepEqual(scanned, referenceScan(raw, 18, 2, 100));
    assert.equal(scanned?.lines.length, 3);
    assert.deepEqual(scanned?.lines[1], [25, 40, 43, 51, fieldNameHash('accept-encoding')]);
    assert.equal(raw.toString('latin1', 2 + 43, 2 + 51), 'gzip, br');
    assert.equal(fieldNameHash('Accept-Encoding'), fieldNameHash('accept-encoding'));
    assert.equal(scanned?.end, raw.length - 4 - 2);
    assert.equal(scanned?.nameLengths, (1 << 4) | (1 << 15) | (1 << 7));
  });

  test('checks every byte of a value at every position of a sixteen-byte step', () => {
    for (let byte = 0; byte < 256; byte++) {
      for (let at = 0; at < 40; at++) {
        const value = Buffer.alloc(48, 'v');
        value[at] = byte;
        for (const after of ['', 'GET / HTTP/1.1\r\nHost: a\r\n\r\n']) {
          const raw = Buffer.concat([
            Buffer.from('GET / HTTP/1.1\r\nHost: a\r\nX-Long: '),
            value,
            Buffer.from(`\r\n\r\n${after}`),
          ]);
          const label = `byte 0x${byte.toString(16)} at ${at}`;
          const expected = referenceScan(raw, 16, 0, 100);
          assert.deepEqual(wasmScan(raw, 16, 0, 100), expected, label);
          assert.equal(expected !== null, byte === 0x09 || (byte >= 0x20 && byte !== 0x7f), label);
        }
      }
    }
  });

  test('agrees with the reference on 20,000 random heads, whole and cut short', () => {
    const random = seededRandom(12);
    for (let i = 0; i < 20_000; i++) {
      const raw = randomHead(random);
      const from = raw.indexOf('\n') + 1;
      if (from === 0) continue;
      const maxLines = random() < 0.1 ? Math.floor(random() * 6) : 100;
      assert.deepEqual(
        wasmScan(raw, from, 0, maxLines),
        referenceScan(raw, from, 0, maxLines),
        JSON.stringify(raw.toString('latin1')),
      );
    }
  });

  test('scans a head longer than the first copy, and leaves one longer than its memory to the exact rules', () => {
    const big = (n: number) =>
      Buffer.from(`GET / HTTP/1.1\r\nHost: a\r\nCookie: ${'c'.repeat(n)}\r\nAccept: */*\r\n\r\n`);
    for (const n of [1_000, 2_030, 2_040, 5_000, 30_000]) {
      const raw = big(n);
      const scanned = wasmScan(raw, 16, 0, 100);
      assert.deepEqual(scanned, referenceScan(raw, 16, 0, 100), `cookie of ${n}`);
      assert.equal(scanned?.lines.length, 3, `cookie of ${n}`);
    }
    assert.equal(wasmScan(big(40_000), 16, 0, 100), null);
  });
});
