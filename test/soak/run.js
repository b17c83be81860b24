#!/usr/bin/env node
/**
 * `npm run test:soak [-- runs]`: the full suite, `runs` times in a row (default 5, or SOAK_RUNS), with a
 * busy loop hogging every core for the whole time, and every failure reported by its test's name. Proof
 * that the suite waits on events, not on luck. The build is done once by the npm script beforehand; each
 * run is the same `node --test` command as `npm test`'s.
 */
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const runs = Number(process.argv[2] ?? process.env.SOAK_RUNS ?? 5);
if (!Number.isInteger(runs) || runs < 1) {
  console.error(`test:soak: the number of runs must be a whole number ≥ 1, got "${process.argv[2]}"`);
  process.exit(2);
}
const REPO = fileURLToPath(new URL('../../', import.meta.url));
/** The per-test deadline: a test that hangs fails by name instead of stopping the soak. */
const TEST_TIMEOUT_MS = 180_000;
/** Lines of each failure's message printed (the assertion and what it compared). */
const ERROR_LINES = 6;

function testFiles(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) out.push(...testFiles(full));
    else if (name.endsWith('.test.js')) out.push(path.relative(REPO, full));
  }
  return out.sort();
}

/** One busy loop per core, as separate processes, so they compete with the suite for every CPU. */
function startHogs() {
  const count = os.availableParallelism();
  return Array.from({ length: count }, () =>
    spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }),
  );
}

/**
 * Reads the TAP stream: returns the failing tests as "suite › test" paths, with their error line. Suites
 * that fail only because a test inside failed are left out; a failing hook is reported as its suite.
 */
function failuresIn(tap) {
  const failures = [];
  const stack = [];
  const lines = tap.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const subtest = /^( *)# Subtest: (.*)$/.exec(line);
    if (subtest) {
      const depth = subtest[1].length / 4;
      stack.length = depth;
      stack[depth] = subtest[2];
      continue;
    }
    const result = /^( *)not ok \d+ - (.*?)(?: # (?:TODO|SKIP).*)?$/.exec(line);
    if (!result) continue;
    const depth = result[1].length / 4;
    let failureType = '';
    let error = '';
    for (let j = i + 1; j < lines.length && !/^ *\.\.\.$/.test(lines[j]); j++) {
      const type = /failureType: '(\w+)'/.exec(lines[j]);
      if (type) failureType = type[1];
      const message = /^( *)error: (.*)$/.exec(lines[j]);
      if (message && error === '') {
        if (message[2] !== '|-') {
          error = message[2].replace(/^'|'$/g, '');
        } else {
          // A block scalar: its lines are indented deeper than the key; the first few say enough.
          const block = [];
          for (let k = j + 1; k < lines.length && lines[k].startsWith(`${message[1]}  `); k++) {
            if (lines[k].trim() !== '') block.push(lines[k].trim());
          }
          error = block.slice(0, ERROR_LINES).join(' | ');
        }
      }
    }
    if (failureType === 'subtestsFailed') continue;
    failures.push({ name: [...stack.slice(0, depth), result[2]].join(' › '), error, failureType });
  }
  return failures;
}

function runSuite(files) {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(
      process.execPath,
      [
        '--test',
        '--test-concurrency=2',
        `--test-timeout=${TEST_TIMEOUT_MS}`,
        '--test-reporter=tap',
        ...files,
      ],
      { cwd: REPO, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let tap = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk) => {
      tap += chunk;
    });
    child.on('close', (code) => {
      const count = (key) => Number(new RegExp(`^# ${key} (\\d+)$`, 'm').exec(tap)?.[1] ?? 0);
      resolve({
        code,
        seconds: (Date.now() - started) / 1000,
        tests: count('tests'),
        pass: count('pass'),
        fail: count('fail'),
        cancelled: count('cancelled'),
        skipped: count('skipped'),
        failures: failuresIn(tap),
      });
    });
  });
}

const files = testFiles(path.join(REPO, 'build'));
if (files.length === 0) {
  console.error('test:soak: no compiled tests under build/ (run through `npm run test:soak`)');
  process.exit(2);
}
const hogs = startHogs();
const stopHogs = () => {
  for (const hog of hogs) hog.kill('SIGKILL');
};
process.on('exit', stopHogs);
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    stopHogs();
    process.exit(130);
  });
}
console.log(
  `test:soak: ${runs} runs of ${files.length} test files, ${hogs.length} busy loops on ${os.availableParallelism()} cores (${os.cpus()[0]?.model ?? 'cpu'})`,
);

const results = [];
for (let run = 1; run <= runs; run++) {
  const result = await runSuite(files);
  results.push(result);
  const verdict = result.fail === 0 && result.cancelled === 0 && result.code === 0 ? 'green' : 'RED';
  console.log(
    `run ${run}/${runs}: ${verdict}, ${result.pass}/${result.tests} passed, ${result.fail} failed, ${result.cancelled} cancelled, ${result.skipped} skipped, ${result.seconds.toFixed(1)} s`,
  );
  for (const failure of result.failures) {
    console.log(`  FAILED ${failure.name}${failure.error ? `: ${failure.error}` : ''}`);
  }
}
stopHogs();

const red = results.filter((r) => r.fail > 0 || r.cancelled > 0 || r.code !== 0).length;
const failures = results.reduce((sum, r) => sum + r.failures.length, 0);
const seconds = results.map((r) => r.seconds);
console.log(
  `test:soak: ${runs - red} of ${runs} runs green, ${failures} failures; ${Math.min(...seconds).toFixed(0)}–${Math.max(...seconds).toFixed(0)} s per run under the CPU hog`,
);
process.exitCode = red === 0 ? 0 : 1;
