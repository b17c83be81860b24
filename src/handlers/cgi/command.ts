/**
 * The command line that runs a script: the script itself (its "#!" line decides), or the interpreter of
 * its extension looked up on the server's PATH; and what a failure to start it means, in one line.
 * @module
 */
import { accessSync, constants as fsConstants, statSync } from 'node:fs';
import path from 'node:path';
import type { CgiScript } from './locate.js';
import { CGI_PATH } from './options.js';

/** Resolved interpreter commands, so PATH is searched once per command. */
const resolvedCommands = new Map<string, string>();

/**
 * Finds an interpreter on the server's PATH: the operator configured it, so it is looked up where the server
 * runs, while the script itself only gets CGI_PATH.
 */
function resolveCommand(command: string): string {
  if (command.includes('/')) return command;
  const known = resolvedCommands.get(command);
  if (known !== undefined) return known;
  for (const directory of (process.env.PATH ?? CGI_PATH).split(path.delimiter)) {
    if (directory === '') continue;
    const candidate = path.join(directory, command);
    try {
      if (!statSync(candidate).isFile()) continue;
      accessSync(candidate, fsConstants.X_OK);
      resolvedCommands.set(command, candidate);
      return candidate;
    } catch {}
  }
  return command;
}

export function commandLine(script: CgiScript): { command: string; args: string[] } {
  if (script.interpreter === null) return { command: script.scriptPath, args: [] };
  // The interpreter setting may carry options ("python3 -u"); words are split on whitespace.
  const words = script.interpreter.trim().split(/\s+/);
  return { command: resolveCommand(words[0] ?? ''), args: [...words.slice(1), script.scriptPath] };
}

/** Why the script (or its interpreter) could not be started, for the log. */
export function startFailure(error: NodeJS.ErrnoException, script: CgiScript): string {
  const what = script.interpreter === null ? 'the script' : `the interpreter "${script.interpreter}"`;
  switch (error.code) {
    case 'ENOENT':
      return `${what} could not be started: it was not found`;
    case 'EACCES':
    case 'EPERM':
      return `${what} could not be started: it is not executable (permission denied)`;
    case 'ENOEXEC':
      return `${what} could not be started: it is not an executable format (missing "#!" line?)`;
    default:
      return `${what} could not be started (${error.code ?? error.message})`;
  }
}
