/**
 * The README's flag table, `--help` and the flag table in src/cli/flags.ts say the same thing; the
 * README's config-file key lists match the config loader's tables.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { CONFIG_KEYS, HARMLESS_KEYS } from '../src/cli/config.js';
import { FLAGS, type FlagSpec, flagLabel, renderHelp } from '../src/cli/flags.js';

const README = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const CLI = new URL('../../dist/cli/main.js', import.meta.url).pathname;

/** The text of a README section, from its heading to the next heading of the same or a higher level. */
function section(heading: string): string {
  const start = README.indexOf(`\n${heading}\n`);
  assert.notEqual(start, -1, `README has no "${heading}" section`);
  const level = heading.indexOf(' ');
  const rest = README.slice(start + heading.length + 2);
  const next = rest.search(new RegExp(`\\n#{1,${level}} `));
  return next === -1 ? rest : rest.slice(0, next);
}

/** `--name` → the label as written (`-p, --port <n>`), from `-p, --port <n>`-like texts. */
function labelsIn(texts: readonly string[]): Map<string, string> {
  const labels = new Map<string, string>();
  for (const text of texts) {
    const match = /^(?:-([a-z]), )?--([a-z0-9-]+)(?: (.+))?$/.exec(text.trim());
    if (match === null) continue;
    const [, short, name, value] = match;
    assert.ok(!labels.has(name!), `--${name} is listed twice`);
    labels.set(
      name!,
      `${short === undefined ? '' : `-${short}, `}--${name}${value === undefined ? '' : ` ${value}`}`,
    );
  }
  return labels;
}

/** The first cell of each row of the README's flag table, split into its backticked flags. */
function readmeFlagLabels(): Map<string, string> {
  const texts: string[] = [];
  for (const line of section('## Command line').split('\n')) {
    if (!line.startsWith('| `')) continue;
    const firstCell = line
      .replace(/\\\|/g, '\u0000')
      .split('|')[1]!
      .replace(/\u0000/g, '|');
    for (const span of firstCell.matchAll(/`([^`]+)`/g)) texts.push(span[1]!);
  }
  return labelsIn(texts);
}

/** The label of each option line of `--help`: what precedes the first run of two spaces. */
function helpFlagLabels(help: string): Map<string, string> {
  const texts = help
    .split('\n')
    .filter((line) => /^ {2}(?:-[a-z], | {4})--/.test(line))
    .map((line) => line.trim().split(/ {2,}/)[0]!);
  return labelsIn(texts);
}

function tableLabels(): Map<string, string> {
  const flags: Readonly<Record<string, FlagSpec>> = FLAGS;
  return new Map(Object.entries(flags).map(([name, spec]) => [name, flagLabel(name, spec).trim()]));
}

function assertSameLabels(actual: Map<string, string>, expected: Map<string, string>, where: string): void {
  const missing = [...expected.keys()].filter((name) => !actual.has(name)).map((name) => `--${name}`);
  const extra = [...actual.keys()].filter((name) => !expected.has(name)).map((name) => `--${name}`);
  assert.deepEqual(
    { missing, extra },
    { missing: [], extra: [] },
    `${where}: flags differ from the flag table`,
  );
  for (const [name, label] of expected) {
    assert.equal(actual.get(name), label, `${where}: --${name} is written differently`);
  }
}

describe('the README, --help and the flag table agree', () => {
  test('the README flag table lists every flag, with the same short form and value placeholder', () => {
    assertSameLabels(readmeFlagLabels(), tableLabels(), 'README');
  });

  test('docroot --help (the built command) lists the same flags as the README', () => {
    const result = spawnSync(process.execPath, [CLI, '--help'], { encoding: 'utf8', timeout: 10_000 });
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stdout, renderHelp());
    assertSameLabels(helpFlagLabels(result.stdout), readmeFlagLabels(), '--help');
  });

  test('the check notices a flag missing from the README, or written with another placeholder', () => {
    const readme = readmeFlagLabels();
    const withoutOne = new Map(readme);
    withoutOne.delete('port');
    assert.throws(() => assertSameLabels(withoutOne, tableLabels(), 'README'), /--port/);
    const otherPlaceholder = new Map(readme).set('port', '-p, --port <number>');
    assert.throws(() => assertSameLabels(otherPlaceholder, tableLabels(), 'README'), /--port/);
  });

  test('every help line fits the width and every flag has a help sentence', () => {
    for (const [name, spec] of Object.entries(FLAGS as Readonly<Record<string, FlagSpec>>)) {
      assert.ok(spec.help.length > 0, `--${name} has no help text`);
      assert.equal(spec.type === 'boolean', spec.value === undefined, `--${name}: a switch has no value`);
    }
    for (const line of renderHelp().split('\n')) {
      const long = /^ {2}(?:-[a-z], | {4})--\S+(?: \S+)? {2}/.test(line);
      assert.ok(line.length <= 100 || long, `help line too long: ${line}`);
    }
  });
});

describe('the README config-file section', () => {
  const text = section('## Config file');

  function backticked(from: string, to: string): string[] {
    const start = text.indexOf(from);
    assert.notEqual(start, -1, `README's config-file section has no "${from}"`);
    const end = text.indexOf(to, start);
    assert.notEqual(end, -1, `README's config-file section has no "${to}" after "${from}"`);
    return [...text.slice(start, end).matchAll(/`([^`]+)`/g)].map((match) => match[1]!);
  }

  test('lists every config key and no other', () => {
    assert.deepEqual(backticked('Config keys:', '.\n').sort(), [...CONFIG_KEYS].sort());
  });

  test('lists exactly the keys an untrusted file may set', () => {
    const listed = backticked('only harmless keys', '— and `dir`').filter((key) => !key.includes('*'));
    // A loopback `host` is allowed too (config.ts checks the value).
    assert.deepEqual(listed.sort(), [...HARMLESS_KEYS, 'host'].sort());
  });
});
