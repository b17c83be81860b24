/**
 * ARCHITECTURE.md stays true (issue 13): its room table names exactly the folders of `src/` (a folder
 * inside a room, such as `handlers/webdav/`, is described somewhere in the file), and its import-rule table is the one the import-direction
 * check enforces.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { EXCEPTIONS, MAY_IMPORT } from './helpers/import-rules.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const architecture = readFileSync(`${REPO}ARCHITECTURE.md`, 'utf8');

/** The body rows of the Markdown table whose header row starts with `header`, split into cells. */
function tableRows(header: string): string[][] {
  const lines = architecture.split('\n');
  const start = lines.findIndex((line) => line.startsWith(header));
  assert.notEqual(start, -1, `ARCHITECTURE.md has a table starting "${header}"`);
  const rows: string[][] = [];
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith('|')) break;
    rows.push(line.split(' | ').map((cell) => cell.replace(/^\| ?| ?\|$/g, '')));
  }
  return rows;
}

function folders(relative: string): string[] {
  const entries = readdirSync(`${REPO}src/${relative}`, { withFileTypes: true });
  return entries.filter((entry) => entry.isDirectory()).map((entry) => `${relative}${entry.name}/`);
}

test('the room table lists exactly the folders of src/, and every folder inside a room is described', () => {
  const rows = tableRows('| room | what lives there |');
  const roomOfRow = rows.map((row) => [...(row[0] ?? '').matchAll(/`src\/([\w-]+\/)`/g)].map((m) => m[1]!));
  assert.deepEqual(roomOfRow.flat().sort(), folders('').sort());
  for (const room of roomOfRow.flat()) {
    for (const inner of folders(room)) {
      assert.ok(architecture.includes(`\`${inner}`), `ARCHITECTURE.md describes the folder src/${inner}`);
    }
  }
});

test('the import-rule table is the one test/import-direction.test.ts enforces', () => {
  const table = Object.fromEntries(
    tableRows('| room | may import |').map(([room, allowed]) => [
      room!.replaceAll('`', ''),
      allowed === '—' ? [] : allowed!.split(', ').map((name) => name.replaceAll('`', '')),
    ]),
  );
  assert.deepEqual(table, MAY_IMPORT);
  for (const module of Object.values(EXCEPTIONS).flat()) {
    assert.ok(architecture.includes(`\`${module}\``), `ARCHITECTURE.md names the exception ${module}`);
  }
});
