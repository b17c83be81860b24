/**
 * The import rules of `src/` as data (ARCHITECTURE.md's "Import rules" table, checked against this one by
 * test/architecture.test.ts): which rooms each room may import, and the named exceptions.
 */

/** The rooms each room may import besides itself; `shared` (version, defaults) is open to all. */
export const MAY_IMPORT: Readonly<Record<string, readonly string[]>> = {
  cli: ['server', 'tls', 'metrics', 'http', 'wire'],
  server: ['handlers', 'proxy', 'metrics', 'http2', 'adapters', 'tls', 'files', 'http', 'archive', 'wire'],
  handlers: ['files', 'http', 'archive', 'wire'],
  proxy: ['handlers', 'http', 'wire'],
  metrics: ['http', 'wire'],
  http2: ['http', 'wire'],
  adapters: ['http', 'wire'],
  tls: ['http', 'wire'],
  files: ['http', 'wire'],
  archive: ['wire'],
  http: ['wire'],
  wire: [],
  shared: [],
};

/** Named exceptions: the command line checks the rule grammars of these modules while it parses flags. */
export const EXCEPTIONS: Readonly<Record<string, readonly string[]>> = {
  cli: ['handlers/auth-rules.ts', 'handlers/auth-rate.ts', 'handlers/policy.ts', 'proxy/routes.ts'],
};

/** The files directly in src/ and their rooms; every other file's room is its top folder. */
export const TOP_LEVEL_ROOM: Readonly<Record<string, string>> = {
  'server.ts': 'server',
  'index.ts': 'server',
  'handler-chain.ts': 'server',
  'handler-hooks.ts': 'server',
  'version.ts': 'shared',
  'defaults.ts': 'shared',
  'lazy.ts': 'shared',
};

export function roomOf(file: string): string | undefined {
  return file.includes('/') ? file.slice(0, file.indexOf('/')) : TOP_LEVEL_ROOM[file];
}

/** Why importing `target` from `file` (both relative to src/) breaks the rules, or null when it may. */
export function brokenRule(file: string, target: string): string | null {
  const from = roomOf(file);
  const to = roomOf(target);
  if (from === undefined || MAY_IMPORT[from] === undefined) return `${file} is in no room of the table`;
  if (to === undefined || MAY_IMPORT[to] === undefined) return `${target} is in no room of the table`;
  if (from === to || to === 'shared' || MAY_IMPORT[from].includes(to)) return null;
  if (EXCEPTIONS[from]?.includes(target)) return null;
  return `${from} may import only ${[...MAY_IMPORT[from], 'shared'].join(', ')}, not ${to}`;
}
