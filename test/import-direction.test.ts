/**
 * Imports point one way (issue 13): every relative import in `src/` goes from a room to a room it may use
 * (test/helpers/import-rules.ts, ARCHITECTURE.md's "Import rules"), or is a named exception.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { brokenRule } from './helpers/import-rules.js';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));
/** `from '…'`, `import('…')` and a bare `import '…'`, relative specifiers only. */
const IMPORT = /(?:\bfrom|\bimport\s*\(|^\s*import)\s*['"](\.{1,2}\/[^'"]+)['"]/gm;

test('the rule table refuses wrong-way imports and allows the right ones', () => {
  assert.equal(brokenRule('http2/serve.ts', 'wire/message.ts'), null);
  assert.equal(brokenRule('cli/args.ts', 'handlers/auth-rules.ts'), null);
  assert.match(brokenRule('http2/serve.ts', 'handlers/errors.ts') ?? '', /not handlers/);
  assert.match(brokenRule('wire/connection.ts', 'files/resolve.ts') ?? '', /not files/);
  assert.match(brokenRule('files/resolve.ts', 'server.ts') ?? '', /not server/);
  assert.match(brokenRule('cli/config.ts', 'handlers/origin-guard.ts') ?? '', /not handlers/);
  assert.match(brokenRule('unknown.ts', 'wire/limits.ts') ?? '', /unknown.ts is in no room/);
});

test('every import in src/ points the allowed way', () => {
  const files = readdirSync(SRC, { recursive: true, encoding: 'utf8' })
    .map((name) => name.split(path.sep).join('/'))
    .filter((file) => file.endsWith('.ts') && !file.endsWith('.test.ts'));
  const broken: string[] = [];
  for (const file of files) {
    for (const [, specifier] of readFileSync(path.join(SRC, file), 'utf8').matchAll(IMPORT)) {
      const target = path.posix.join(path.posix.dirname(file), specifier!).replace(/\.js$/, '.ts');
      const rule = brokenRule(file, target);
      if (rule !== null) broken.push(`src/${file} imports '${specifier}': ${rule}`);
    }
  }
  assert.ok(files.length > 50, `the walk found the sources (${files.length})`);
  assert.deepEqual(broken, []);
});
