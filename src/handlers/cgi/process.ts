/**
 * Running a script: the child process in its own process group, its stdin fed from the request body, its
 * stderr logged line by line, its stdout parsed for the header block and then streamed as the body.
 * @module
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, createReadStream, constants as fsConstants, statSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { pipeline, Readable } from 'node:stream';
import type { ResponseDescription } from '../../wire/message.js';
import { describeError, scriptFailure } from './failure.js';
import { findHeadEnd, parseCgiHead } from './head.js';
import type { ScriptInput } from './input.js';
import type { CgiScript } from './locate.js';
import {
  CGI_DEFAULT_TIMEOUT_MS,
  CGI_KILL_GRACE_MS,
  CGI_MAX_HEAD_BYTES,
  CGI_MAX_STDERR_LINE_CHARS,
  CGI_OUTPUT_HIGH_WATER_MARK,
  CGI_PATH,
  type CgiOptions,
} from './options.js';
import { localRedirect, type RedirectedRequest } from './redirect.js';

/** Kill switches of the scripts running now, for `stopAllCgiScripts`. */
const runningScripts = new Set<() => void>();

/** Kills every running script's process group (for server shutdown). */
export function stopAllCgiScripts(): void {
  for (const stop of runningScripts) stop();
}

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

function commandLine(script: CgiScript): { command: string; args: string[] } {
  if (script.interpreter === null) return { command: script.scriptPath, args: [] };
  // The interpreter setting may carry options ("python3 -u"); words are split on whitespace.
  const words = script.interpreter.trim().split(/\s+/);
  return { command: resolveCommand(words[0] ?? ''), args: [...words.slice(1), script.scriptPath] };
}

function startFailure(error: NodeJS.ErrnoException, script: CgiScript): string {
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

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // ESRCH: the group is already gone.
  }
}

/**
 * The body of a script's response: stdout after the header block. Backpressure runs through it (stdout is
 * paused while the wire's socket is full), and destroying it early (client gone) calls `onAbort`.
 */
class CgiOutputStream extends Readable {
  private readonly source: Readable;
  private readonly onAbort: () => void;
  private ended = false;

  constructor(source: Readable, onAbort: () => void) {
    super({ highWaterMark: CGI_OUTPUT_HIGH_WATER_MARK });
    this.source = source;
    this.onAbort = onAbort;
    // A timeout may destroy the stream with an error before (or after) the wire listens; never crash on it.
    this.on('error', () => {});
  }

  /** Passes on a piece of script output; pauses the script's stdout when the consumer is behind. */
  forward(chunk: Buffer): void {
    if (this.destroyed) return;
    if (!this.push(chunk)) this.source.pause();
  }

  finish(): void {
    if (this.destroyed || this.ended) return;
    this.ended = true;
    this.push(null);
  }

  override _read(): void {
    this.source.resume();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (!this.ended) this.onAbort();
    callback(error);
  }
}

export function execute(
  request: RedirectedRequest,
  script: CgiScript,
  options: CgiOptions,
  env: Record<string, string>,
  input: ScriptInput,
): Promise<ResponseDescription> {
  const context = `cgi: ${script.scriptName}`;
  const nph = path.basename(script.scriptPath).startsWith('nph-');
  const { command, args } = commandLine(script);
  const timeoutMs = options.timeoutMs > 0 ? options.timeoutMs : CGI_DEFAULT_TIMEOUT_MS;

  return new Promise<ResponseDescription>((resolve) => {
    let settled = false;
    const settle = (response: ResponseDescription | Promise<ResponseDescription>) => {
      if (settled) return;
      settled = true;
      resolve(response);
    };
    const cleanupInput = () => {
      if (input.kind === 'file') rm(input.directory, { recursive: true, force: true }).catch(() => {});
    };

    let child: ChildProcess;
    try {
      child = spawn(command, args, {
        cwd: path.dirname(script.scriptPath),
        env,
        // Own process group, so the script and everything it starts can be killed together.
        detached: true,
        stdio: ['pipe', 'pipe', 'pipe'],
      });
    } catch (error) {
      cleanupInput();
      settle(scriptFailure(502, startFailure(error as NodeJS.ErrnoException, script), options, context));
      return;
    }
    const stdin = child.stdin!;
    const stdout = child.stdout!;
    const stderr = child.stderr!;

    /** head: collecting the header block; body: streaming; drain: output is read and dropped. */
    let phase: 'head' | 'body' | 'drain' | 'done' = 'head';
    let head: Buffer = Buffer.alloc(0);
    let output: CgiOutputStream | null = null;
    let closed = false;
    let killing = false;
    let started = false;

    const kill = () => {
      if (killing || closed || child.pid === undefined) return;
      killing = true;
      const pid = child.pid;
      signalGroup(pid, 'SIGTERM');
      // Whatever ignores SIGTERM gets SIGKILL; the whole group, so grandchildren go too.
      setTimeout(() => signalGroup(pid, 'SIGKILL'), CGI_KILL_GRACE_MS).unref();
    };
    runningScripts.add(kill);

    const timer = setTimeout(() => {
      const message = `the script did not finish within ${timeoutMs} ms`;
      kill();
      if (phase === 'head') {
        phase = 'done';
        settle(
          scriptFailure(
            504,
            `the script did not write its response head within ${timeoutMs} ms`,
            options,
            context,
          ),
        );
      } else {
        options.logError(message, context);
        if (phase === 'body' && output !== null) {
          // The head is out: the only way to tell the client the body is incomplete is to break the connection.
          phase = 'done';
          output.destroy(new Error(message));
        }
      }
    }, timeoutMs);

    child.once('spawn', () => {
      started = true;
    });
    child.on('error', (error: NodeJS.ErrnoException) => {
      if (started) {
        options.logError(describeError(error), context);
        return;
      }
      phase = 'done';
      cleanupInput();
      settle(scriptFailure(502, startFailure(error, script), options, context));
    });

    // stdin: the request content, with backpressure; a script that does not read it is not an error.
    /**
     * Once the script will read no more (stdin failed with EPIPE, or it closed stdout or exited), the rest
     * of the upload is read and dropped, so the wire is not left paused by the stdin pipe's backpressure and
     * the connection stays usable.
     */
    const releaseUpload = () => {
      if (input.kind !== 'stream' || input.stream.readableEnded || input.stream.destroyed) return;
      input.stream.unpipe(stdin);
      input.stream.resume();
    };
    stdin.on('error', releaseUpload);
    stdin.on('close', releaseUpload);
    switch (input.kind) {
      case 'none':
        stdin.end();
        break;
      case 'memory':
        stdin.end(input.data);
        break;
      case 'file':
        // pipeline closes the file when stdin fails (EPIPE) or the script exits early.
        pipeline(createReadStream(input.file), stdin, (error) => {
          const code = (error as NodeJS.ErrnoException | undefined)?.code;
          if (error && code !== 'EPIPE' && code !== 'ERR_STREAM_PREMATURE_CLOSE') {
            options.logError(`the request body could not be passed on: ${describeError(error)}`, context);
          }
        });
        break;
      case 'stream': {
        const body = input.stream;
        body.pipe(stdin);
        body.on('error', kill);
        body.on('close', () => {
          // The client went away while the script was still reading its upload.
          if (!body.readableEnded) kill();
        });
        break;
      }
    }

    // A failing pipe (EIO) ends the script's output like its exit does; it must never be an unhandled error.
    stdout.on('error', (error) => options.logError(error, context));
    stderr.on('error', (error) => options.logError(error, context));

    // stderr: each line goes to the log, tagged with the script.
    let partialLine = '';
    stderr.setEncoding('utf8');
    stderr.on('data', (text: string) => {
      partialLine += text;
      let newline = partialLine.indexOf('\n');
      while (newline !== -1) {
        logStderrLine(partialLine.slice(0, newline));
        partialLine = partialLine.slice(newline + 1);
        newline = partialLine.indexOf('\n');
      }
      while (partialLine.length > CGI_MAX_STDERR_LINE_CHARS) {
        logStderrLine(partialLine.slice(0, CGI_MAX_STDERR_LINE_CHARS));
        partialLine = partialLine.slice(CGI_MAX_STDERR_LINE_CHARS);
      }
    });
    stderr.on('end', () => {
      if (partialLine !== '') logStderrLine(partialLine);
      partialLine = '';
    });
    function logStderrLine(line: string): void {
      const text = line.endsWith('\r') ? line.slice(0, -1) : line;
      options.logError(text, context);
    }

    /** HEAD, 204 and 304 responses carry no body, so the wire drops the stream without the client leaving. */
    let bodyless = request.method === 'HEAD';
    const abortBody = () => {
      // The wire destroyed the body: the client left, or the response has no body.
      if (phase !== 'body') return;
      phase = 'drain';
      // A bodiless response lets the script run to its end as GET would (RFC 9110 §9.3.2); the timeout
      // still bounds it. A client that left gets its script killed.
      if (!bodyless) kill();
      stdout.resume();
    };

    stdout.on('data', (chunk: Buffer) => {
      if (phase === 'body') {
        output!.forward(chunk);
        return;
      }
      if (phase !== 'head') return;
      const searchFrom = Math.max(0, head.length - 1);
      head = head.length === 0 ? chunk : Buffer.concat([head, chunk]);
      const bodyStart = findHeadEnd(head, searchFrom);
      if (bodyStart === -1) {
        if (head.length > CGI_MAX_HEAD_BYTES) headTooLong();
        return;
      }
      if (bodyStart > CGI_MAX_HEAD_BYTES) {
        headTooLong();
        return;
      }
      onHead(head.toString('latin1', 0, bodyStart), head.subarray(bodyStart));
      head = Buffer.alloc(0);
    });
    stdout.on('end', () => {
      releaseUpload();
      if (phase === 'body') output!.finish();
    });

    function headTooLong(): void {
      phase = 'done';
      kill();
      const reason = `the script's header block is longer than ${CGI_MAX_HEAD_BYTES} bytes`;
      settle(scriptFailure(502, reason, options, context));
    }

    function onHead(headText: string, rest: Buffer): void {
      const parsed = parseCgiHead(headText, nph);
      if (parsed.kind === 'error') {
        phase = 'done';
        kill();
        settle(scriptFailure(502, parsed.message, options, context));
        return;
      }
      if (parsed.kind === 'local-redirect') {
        // The script's own output is not used; let it finish.
        phase = 'drain';
        stdout.resume();
        // A redispatch that throws becomes a rejection, which the wire answers with 500.
        settle(Promise.resolve().then(() => localRedirect(request, parsed.location, options, context)));
        return;
      }
      phase = 'body';
      if (parsed.status === 204 || parsed.status === 304) bodyless = true;
      output = new CgiOutputStream(stdout, abortBody);
      if (rest.length > 0) output.forward(rest);
      settle({
        status: parsed.status,
        ...(parsed.reason === undefined ? {} : { reason: parsed.reason }),
        headers: parsed.headers,
        body:
          parsed.length === undefined
            ? { kind: 'stream', stream: output }
            : { kind: 'stream', stream: output, length: parsed.length },
      });
    }

    child.on('close', (code: number | null, signal: NodeJS.Signals | null) => {
      closed = true;
      clearTimeout(timer);
      runningScripts.delete(kill);
      cleanupInput();
      if (!started) return;
      // After the head, the end of the body is stdout's 'end', not the exit.
      if (phase !== 'head') {
        if (code !== 0 && !killing) {
          const reason =
            code === null ? `the script was killed by ${signal}` : `the script exited with code ${code}`;
          options.logError(reason, context);
        }
        return;
      }
      phase = 'done';
      let message: string;
      if (head.length > 0) {
        message =
          "the script's output ended before the blank line that ends its header block (RFC 3875 §6.2)";
      } else if (code === null) {
        message = `the script was killed by ${signal} before writing a response`;
      } else if (code !== 0) {
        message = `the script exited with code ${code} before writing a response`;
      } else {
        message = 'the script exited without writing a response';
      }
      settle(scriptFailure(502, message, options, context));
    });
  });
}
