/**
 * The config file (`docroot.config.json`, or `--config path`): a JSON object whose keys are the long
 * flags in camelCase (`port`, `noListing`, `cacheControl`, `cgiExt`, `404`) plus `dir` for the folder.
 * Checked against the one table of flags in args.ts; anything unknown or mistyped is a one-line error
 * naming the key and the file. Loaded lazily by main.ts, only when there is a file to read.
 *
 * Trust: a file found in the current folder was not asked for (running `npx docroot` in a freshly cloned
 * repository must not turn on CGI, uploads or the LAN), so it may set only the harmless keys listed in
 * HARMLESS_KEYS, and `dir` only inside its own folder. Any other key is refused with one line naming it,
 * unless the file is named with `--config`. New flags are refused from such files until listed there.
 * @module
 */
import { readFileSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { isLoopbackHost } from '../wire/endpoints.js';
import type { ConfigFileValues } from './args.js';
import { COMMAND_LINE_ONLY_FLAGS, configKeyOf, FLAGS } from './flags.js';

/** A config file that cannot be used, with a message fit for the terminal. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** Config key → long flag, for every flag a file may set. */
const FLAG_BY_KEY: ReadonlyMap<string, keyof typeof FLAGS> = new Map(
  (Object.keys(FLAGS) as Array<keyof typeof FLAGS>)
    .filter((flag) => !COMMAND_LINE_ONLY_FLAGS.has(flag))
    .map((flag) => [configKeyOf(flag), flag]),
);

/** The key for the folder to serve (the command line's positional argument). */
const DIR_KEY = 'dir';

/** Every key a config file may hold, in the flag table's order (the README lists them all). */
export const CONFIG_KEYS: readonly string[] = [DIR_KEY, ...FLAG_BY_KEY.keys()];

/**
 * Keys a config file that was not named with --config may set: they change how files are presented,
 * logged or cached, never who may reach, read, write or run what.
 */
export const HARMLESS_KEYS: ReadonlySet<string> = new Set([
  'port',
  'noListing',
  'noCompress',
  'cacheControl',
  'header',
  'spa',
  '404',
  'maxConnections',
  'trace',
  'log',
  'workers',
  'watch',
  'noHttp2',
  'healthPath',
  'noArchives',
  'noSearch',
  'noReadme',
  'noQr',
  'maxUploadSize',
]);

/** Response fields that would open the content to other origins, which an untrusted file may not add. */
const CROSS_ORIGIN_FIELD = /^\s*access-control-/i;

export interface ConfigTrust {
  /** The user named this file (--config): every key is allowed. */
  trusted: boolean;
}

export function loadConfigFile(file: string, trust: ConfigTrust = { trusted: true }): ConfigFileValues {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new ConfigError(
      code === 'ENOENT' ? `config file ${file} does not exist` : `cannot read config file ${file} (${code})`,
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`${file} is not valid JSON: ${(error as Error).message}`);
  }
  return checkConfig(parsed, file, trust);
}

/** Checks a parsed config object; `source` names the file in messages and anchors a relative `dir`. */
export function checkConfig(
  parsed: unknown,
  source: string,
  trust: ConfigTrust = { trusted: true },
): ConfigFileValues {
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ConfigError(`${source} must hold a JSON object of options, like {"port": 8080}`);
  }
  const result: ConfigFileValues = { source, values: {} };
  for (const [key, value] of Object.entries(parsed)) {
    if (key === DIR_KEY) {
      if (typeof value !== 'string' || value === '') {
        throw new ConfigError(`${source}: "dir" must be a folder name (a string), got ${describe(value)}`);
      }
      const folder = path.dirname(path.resolve(source));
      result.dir = path.resolve(folder, value);
      if (!trust.trusted && !isWithin(realOrSelf(folder), realOrSelf(result.dir))) {
        throw new ConfigError(
          `${source}: "dir" leads outside the file's own folder, which only a file named with --config may do`,
        );
      }
      continue;
    }
    // Listening on loopback exposes nothing more than the default does.
    const loopbackHost = key === 'host' && typeof value === 'string' && isLoopbackHost(value);
    if (!trust.trusted && !HARMLESS_KEYS.has(key) && !loopbackHost && FLAG_BY_KEY.has(key)) {
      throw new ConfigError(
        `${source}: "${key}" widens what the server exposes or runs, so it is only read from a file named with --config (docroot --config ${source})`,
      );
    }
    const flag = FLAG_BY_KEY.get(key);
    if (flag === undefined) {
      throw new ConfigError(
        `${source}: unknown key "${key}" (keys are the long flags in camelCase, e.g. "port", "noListing", "cacheControl"; see docroot --help)`,
      );
    }
    result.values[flag] = checkValue(FLAGS[flag], value, key, source);
    const fields = result.values[flag];
    if (
      !trust.trusted &&
      key === 'header' &&
      Array.isArray(fields) &&
      fields.some((field) => CROSS_ORIGIN_FIELD.test(field))
    ) {
      throw new ConfigError(
        `${source}: "header" adds Access-Control-* fields, which open the files to other sites, so it is only read from a file named with --config`,
      );
    }
  }
  return result;
}

/** The real path when it exists (a symlink in a cloned repository may point anywhere), else the path. */
function realOrSelf(file: string): string {
  try {
    return realpathSync(file);
  } catch {
    return file;
  }
}

function isWithin(folder: string, candidate: string): boolean {
  const relative = path.relative(folder, candidate);
  return (
    relative === '' ||
    (relative !== '..' && !relative.startsWith(`..${path.sep}`) && !path.isAbsolute(relative))
  );
}

function checkValue(
  spec: { readonly type: 'string' | 'boolean'; readonly multiple?: boolean },
  value: unknown,
  key: string,
  source: string,
): string | boolean | string[] {
  if (spec.type === 'boolean') {
    if (typeof value !== 'boolean') {
      throw new ConfigError(`${source}: "${key}" must be true or false, got ${describe(value)}`);
    }
    return value;
  }
  const single = (item: unknown): string => {
    // Numbers are natural for ports, counts and seconds; they become the text the flag would get.
    if (typeof item === 'string') return item;
    if (typeof item === 'number' && Number.isFinite(item)) return String(item);
    throw new ConfigError(
      `${source}: "${key}" must be a ${spec.multiple ? 'string or a list of strings' : 'string or number'}, got ${describe(item)}`,
    );
  };
  if (spec.multiple === true) return Array.isArray(value) ? value.map(single) : [single(value)];
  return single(value);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${JSON.stringify(value)}`;
}
