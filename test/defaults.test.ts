/** src/defaults.ts imports nothing, and the README states the defaults users set most as defaults.ts has them. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import {
  DEFAULT_AUTH_FAILURES,
  DEFAULT_CGI_MAX_BODY_BYTES,
  DEFAULT_CGI_TIMEOUT_MS,
  DEFAULT_HEALTH_PATH,
  DEFAULT_MAX_UPLOAD_BYTES,
  DEFAULT_PORT,
  DEFAULT_PROXY_TIMEOUT_MS,
} from '../src/defaults.js';

const README = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const SOURCE = readFileSync(new URL('../../src/defaults.ts', import.meta.url), 'utf8');

test('src/defaults.ts imports nothing, so every room may use it', () => {
  assert.doesNotMatch(SOURCE, /^\s*import\b|\bimport\(|\brequire\(/m);
});

/** The README flag-table row of a flag. */
function row(flag: string): string {
  const line = README.split('\n').find((text) => text.startsWith('| `') && text.includes(`--${flag}`));
  assert.ok(line !== undefined, `README has no row for --${flag}`);
  return line;
}

test('the README flag table states the defaults of src/defaults.ts', () => {
  const GIB = 1024 ** 3;
  const cases: Array<[string, string]> = [
    ['port', `(default \`${DEFAULT_PORT}\`)`],
    ['cgi-timeout', `(default ${DEFAULT_CGI_TIMEOUT_MS / 1000})`],
    ['cgi-max-body', `(default \`${DEFAULT_CGI_MAX_BODY_BYTES / GIB}G\`)`],
    ['max-upload-size', `default \`${DEFAULT_MAX_UPLOAD_BYTES / GIB}G\``],
    ['health-path', `(default \`${DEFAULT_HEALTH_PATH}\`;`],
    ['auth-rate', `\`${DEFAULT_AUTH_FAILURES}/min\` (default)`],
    ['proxy-timeout', `default ${DEFAULT_PROXY_TIMEOUT_MS / 1000})`],
  ];
  for (const [flag, text] of cases)
    assert.ok(row(flag).includes(text), `--${flag}: README should say ${text}`);
});
