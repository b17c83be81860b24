/**
 * The suite waits on events, never on sleeps (issue 14). This check keeps it so: outside
 * `test/helpers/wait.ts`, a timer in a test may only be a deadline — kept in a variable to be cleared
 * (`const timer = setTimeout(…)`) or marked `// deadline` — and never a promise that resolves after a
 * while (`await new Promise((r) => setTimeout(r, 100))`, `setTimeout` from `node:timers/promises`).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
/** wait.ts owns the one poll interval; this file quotes sleeps to check the detector. */
const ALLOWED = new Set(['test/helpers/wait.ts', 'test/no-sleeps.test.ts']);

/** The sleeps on one line of source, described; empty when the line is fine. */
export function sleepsIn(line: string): string[] {
  const found: string[] = [];
  if (/from ['"](node:)?timers\/promises['"]/.test(line) && /\bsetTimeout\b/.test(line)) {
    found.push('setTimeout from timers/promises is a sleep');
  }
  if (/setTimeout\(\s*(r|res|resolve|done|next)\s*[,)]/.test(line)) {
    found.push('a promise resolved by a timer is a sleep');
  }
  if (
    /(?<![.\w])setTimeout\(/.test(line) &&
    !/=\s*setTimeout\(/.test(line) &&
    !/\/\/ deadline\b/.test(line)
  ) {
    found.push('a timer that is not a deadline (assign it to clear it, or mark it "// deadline")');
  }
  return found;
}

function sourceFiles(dir: string, keep: (relative: string) => boolean): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(path.join(REPO, dir), { withFileTypes: true })) {
    const relative = `${dir}/${entry.name}`;
    if (entry.isDirectory()) {
      if (entry.name !== 'fixtures' && entry.name !== 'node_modules')
        out.push(...sourceFiles(relative, keep));
    } else if (keep(relative)) {
      out.push(relative);
    }
  }
  return out;
}

describe('no sleeps in the tests', () => {
  test('the detector recognises sleeps and lets deadlines through', () => {
    assert.notDeepEqual(sleepsIn('    await new Promise((r) => setTimeout(r, 100));'), []);
    assert.notDeepEqual(sleepsIn('await new Promise((resolve) => setTimeout(resolve, 30));'), []);
    assert.notDeepEqual(sleepsIn("import { setTimeout as sleep } from 'node:timers/promises';"), []);
    assert.notDeepEqual(sleepsIn('      setTimeout(() => socket.resume(), 50);'), []);
    assert.deepEqual(sleepsIn('    const timer = setTimeout(() => finish(true), 5000);'), []);
    assert.deepEqual(sleepsIn('    setTimeout(() => socket.destroy(), 10_000).unref(); // deadline'), []);
    assert.deepEqual(sleepsIn("    t.mock.timers.enable({ apis: ['setTimeout'] });"), []);
  });

  test('test/ and src/**/*.test.ts use timers only as deadlines', () => {
    const files = [
      ...sourceFiles('test', (f) => /\.(ts|js|mjs)$/.test(f)),
      ...sourceFiles('src', (f) => f.endsWith('.test.ts')),
    ].filter((f) => !ALLOWED.has(f));
    assert.ok(files.length > 20, `found ${files.length} files`);
    const offences: string[] = [];
    for (const file of files) {
      readFileSync(path.join(REPO, file), 'utf8')
        .split('\n')
        .forEach((line, index) => {
          for (const why of sleepsIn(line)) offences.push(`${file}:${index + 1}: ${why}\n    ${line.trim()}`);
        });
    }
    assert.deepEqual(
      offences,
      [],
      `wait for an event (test/helpers/wait.ts) instead:\n${offences.join('\n')}`,
    );
  });
});
