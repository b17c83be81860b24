/**
 * A running script: the child process in its own process group, its stdin fed from the request body, its
 * stderr logged line by line, its stdout parsed for the header block and then streamed as the body. Two
 * explicit states drive it: `OutputPhase` (what the script's stdout means now) and `ChildState` (where the
 * process is). Each server's handler keeps its running scripts in its own `CgiScriptRegistry`, so closing
 * one server stops its scripts and no other's.
 * @module
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream';
import type { HttpRequest, ResponseDescription } from '../../wire/message.js';
import { commandLine, startFailure } from './command.js';
import { type CGI_FAILURE_MESSAGES, cgiErrorResponse, describeError, scriptFailure } from './failure.js';
import { findHeadEnd, parseCgiHead } from './head.js';
import { discardScriptInput, type ScriptInput } from './input.js';
import type { CgiScript } from './locate.js';
import { CGI_DEFAULT_TIMEOUT_MS, CGI_KILL_GRACE_MS, CGI_MAX_HEAD_BYTES, type CgiOptions } from './options.js';
import { CgiOutputStream, logStderrLines } from './output.js';

/** What a script's run gives the handler: the answer, or a local redirect (RFC 3875 §6.2.2) to follow. */
export type ScriptOutcome =
  | { readonly kind: 'response'; readonly response: ResponseDescription }
  | { readonly kind: 'local-redirect'; readonly location: string };

/** The scripts one handler has running, so its server's shutdown can stop exactly those. */
export class CgiScriptRegistry {
  private readonly running = new Set<CgiProcess>();
  /**
   * False once `stopAll` ran: a request still on its way to a script then (waiting for the script's stat
   * or its upload) must not start one that nothing would stop.
   */
  accepting = true;

  add(script: CgiProcess): void {
    this.running.add(script);
  }

  delete(script: CgiProcess): void {
    this.running.delete(script);
  }

  /** Kills every running script's process group and starts no more (server shutdown). */
  stopAll(): void {
    this.accepting = false;
    for (const script of this.running) script.stop();
  }
}

/** What the script's stdout means now. */
enum OutputPhase {
  /** Collecting the header block; the request is not answered yet. */
  Head,
  /** Answered; stdout is streamed as the response body. */
  Body,
  /** Answered; the rest of stdout is read and dropped (bodiless response, client gone, local redirect). */
  Draining,
  /** Answered with a failure, or the body was broken off by the timeout; stdout is ignored. */
  Failed,
}

/** Where the child process is. */
enum ChildState {
  /** spawn() returned; the 'spawn' event has not come yet. */
  Starting,
  Running,
  /** SIGTERM went to its process group; SIGKILL follows after CGI_KILL_GRACE_MS. */
  Stopping,
  /** It could not be started ('error' before 'spawn'). */
  NotStarted,
  /** It exited and its pipes are closed ('close'). */
  Exited,
}

/** The answer to a request that reached its script only after the server began to shut down. */
export const CGI_STOPPED_MESSAGE = 'the server is shutting down, so the script was not started';

/** Whether a process group with this id still has members (signal 0 checks without sending anything). */
function groupExists(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, owned by someone else (the id was reused); only ESRCH means gone.
    return (error as NodeJS.ErrnoException).code !== 'ESRCH';
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
 * Starts a script with its environment and input. The promise resolves once, with the answer (a document,
 * or a 502/504 failure already logged) or a local redirect; it never rejects.
 */
export function startScript(
  request: HttpRequest,
  script: CgiScript,
  options: CgiOptions,
  env: Record<string, string>,
  input: ScriptInput,
  registry: CgiScriptRegistry,
): Promise<ScriptOutcome> {
  if (!registry.accepting) {
    discardScriptInput(input);
    return Promise.resolve({ kind: 'response', response: cgiErrorResponse(503, CGI_STOPPED_MESSAGE) });
  }
  const { command, args } = commandLine(script);
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
    discardScriptInput(input);
    const reason = startFailure(error as NodeJS.ErrnoException, script);
    return Promise.resolve({
      kind: 'response',
      response: scriptFailure(502, reason, options, contextOf(script)),
    });
  }
  return new CgiProcess(child, request, script, options, input, registry).outcome;
}

/** The log context of a script's lines. */
export function contextOf(script: CgiScript): string {
  return `cgi: ${script.scriptName}`;
}

/** One script run for one request, from spawn to exit. */
export class CgiProcess {
  /** Resolves once, when the phase leaves `Head`. */
  readonly outcome: Promise<ScriptOutcome>;
  private resolveOutcome!: (outcome: ScriptOutcome) => void;
  private phase = OutputPhase.Head;
  private state = ChildState.Starting;
  /** The header block so far (phase `Head`). */
  private head: Buffer = Buffer.alloc(0);
  /** The response body (from phase `Body` on). */
  private body: CgiOutputStream | null = null;
  /** HEAD, 204 and 304 responses carry no body, so the wire drops the stream without the client leaving. */
  private bodyless: boolean;
  private readonly context: string;
  private readonly timeoutMs: number;
  private readonly timer: NodeJS.Timeout;
  /** The SIGKILL that follows a SIGTERM, while it is pending. */
  private killTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly child: ChildProcess,
    request: HttpRequest,
    private readonly script: CgiScript,
    private readonly options: CgiOptions,
    private readonly input: ScriptInput,
    private readonly registry: CgiScriptRegistry,
  ) {
    this.outcome = new Promise((resolve) => {
      this.resolveOutcome = resolve;
    });
    this.context = contextOf(script);
    this.bodyless = request.method === 'HEAD';
    this.timeoutMs = options.timeoutMs > 0 ? options.timeoutMs : CGI_DEFAULT_TIMEOUT_MS;
    registry.add(this);
    this.timer = setTimeout(() => this.onTimeout(), this.timeoutMs);

    child.once('spawn', () => {
      if (this.state === ChildState.Starting) this.state = ChildState.Running;
    });
    child.on('error', (error: NodeJS.ErrnoException) => this.onError(error));
    child.on('close', (code: number | null, signal: NodeJS.Signals | null) => this.onClose(code, signal));
    this.feedStdin();
    const stdout = child.stdout!;
    const stderr = child.stderr!;
    // A failing pipe (EIO) ends the script's output like its exit does; it must never be an unhandled error.
    stdout.on('error', (error) => options.logError(error, this.context));
    stderr.on('error', (error) => options.logError(error, this.context));
    logStderrLines(stderr, (line) => options.logError(line, this.context));
    stdout.on('data', (chunk: Buffer) => this.onStdout(chunk));
    stdout.on('end', () => {
      this.releaseUpload();
      if (this.phase === OutputPhase.Body) this.body!.finish();
    });
  }

  /** Kills the script's process group: SIGTERM, then SIGKILL for whatever ignores it. */
  stop(): void {
    if (this.state !== ChildState.Starting && this.state !== ChildState.Running) return;
    const pid = this.child.pid;
    if (pid === undefined) return;
    this.state = ChildState.Stopping;
    signalGroup(pid, 'SIGTERM');
    // The whole group, so grandchildren go too.
    this.killTimer = setTimeout(() => signalGroup(pid, 'SIGKILL'), CGI_KILL_GRACE_MS);
    this.killTimer.unref();
  }

  /** Leaves phase `Head` for `next` with the request's answer; false when it was answered already. */
  private answer(next: OutputPhase, outcome: ScriptOutcome): boolean {
    if (this.phase !== OutputPhase.Head) return false;
    this.phase = next;
    this.resolveOutcome(outcome);
    return true;
  }

  /** Answers with a generic 502 or 504 and logs why, unless the request was answered already. */
  private fail(status: keyof typeof CGI_FAILURE_MESSAGES, reason: string): void {
    if (this.phase !== OutputPhase.Head) return;
    this.answer(OutputPhase.Failed, {
      kind: 'response',
      response: scriptFailure(status, reason, this.options, this.context),
    });
  }

  /** stdin: the request content, with backpressure; a script that does not read it is not an error. */
  private feedStdin(): void {
    const stdin = this.child.stdin!;
    stdin.on('error', () => this.releaseUpload());
    stdin.on('close', () => this.releaseUpload());
    const input = this.input;
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
            this.options.logError(
              `the request body could not be passed on: ${describeError(error)}`,
              this.context,
            );
          }
        });
        break;
      case 'stream': {
        const body = input.stream;
        body.pipe(stdin);
        body.on('error', () => this.stop());
        body.on('close', () => {
          // The client went away while the script was still reading its upload.
          if (!body.readableEnded) this.stop();
        });
        break;
      }
    }
  }

  /**
   * Once the script will read no more (stdin failed with EPIPE, or it closed stdout or exited), the rest
   * of the upload is read and dropped, so the wire is not left paused by the stdin pipe's backpressure and
   * the connection stays usable.
   */
  private releaseUpload(): void {
    const input = this.input;
    if (input.kind !== 'stream' || input.stream.readableEnded || input.stream.destroyed) return;
    input.stream.unpipe(this.child.stdin!);
    input.stream.resume();
  }

  private onTimeout(): void {
    this.stop();
    if (this.phase === OutputPhase.Head) {
      this.fail(504, `the script did not write its response head within ${this.timeoutMs} ms`);
      return;
    }
    const message = `the script did not finish within ${this.timeoutMs} ms`;
    this.options.logError(message, this.context);
    if (this.phase === OutputPhase.Body) {
      // The head is out: the only way to tell the client the body is incomplete is to break the connection.
      this.phase = OutputPhase.Failed;
      this.body!.destroy(new Error(message));
    }
  }

  private onError(error: NodeJS.ErrnoException): void {
    if (this.state !== ChildState.Starting) {
      this.options.logError(describeError(error), this.context);
      return;
    }
    this.state = ChildState.NotStarted;
    discardScriptInput(this.input);
    this.fail(502, startFailure(error, this.script));
  }

  private onStdout(chunk: Buffer): void {
    if (this.phase === OutputPhase.Body) {
      this.body!.forward(chunk);
      return;
    }
    if (this.phase !== OutputPhase.Head) return;
    const searchFrom = Math.max(0, this.head.length - 1);
    this.head = this.head.length === 0 ? chunk : Buffer.concat([this.head, chunk]);
    const bodyStart = findHeadEnd(this.head, searchFrom);
    if (bodyStart === -1 ? this.head.length > CGI_MAX_HEAD_BYTES : bodyStart > CGI_MAX_HEAD_BYTES) {
      this.stop();
      this.fail(502, `the script's header block is longer than ${CGI_MAX_HEAD_BYTES} bytes`);
      return;
    }
    if (bodyStart === -1) return;
    const head = this.head;
    this.head = Buffer.alloc(0);
    this.onHead(head.toString('latin1', 0, bodyStart), head.subarray(bodyStart));
  }

  private onHead(headText: string, rest: Buffer): void {
    const nph = path.basename(this.script.scriptPath).startsWith('nph-');
    const parsed = parseCgiHead(headText, nph);
    const stdout = this.child.stdout!;
    if (parsed.kind === 'error') {
      this.stop();
      this.fail(502, parsed.message);
      return;
    }
    if (parsed.kind === 'local-redirect') {
      // The script's own output is not used; let it finish.
      this.answer(OutputPhase.Draining, { kind: 'local-redirect', location: parsed.location });
      stdout.resume();
      return;
    }
    if (parsed.status === 204 || parsed.status === 304) this.bodyless = true;
    const body = new CgiOutputStream(stdout, () => this.abortBody());
    this.body = body;
    if (rest.length > 0) body.forward(rest);
    const length = parsed.length === undefined ? {} : { length: parsed.length };
    this.answer(OutputPhase.Body, {
      kind: 'response',
      response: {
        status: parsed.status,
        ...(parsed.reason === undefined ? {} : { reason: parsed.reason }),
        headers: parsed.headers,
        body: { kind: 'stream', stream: body, ...length },
      },
    });
  }

  /** The wire destroyed the body: the client left, or the response has no body. */
  private abortBody(): void {
    if (this.phase !== OutputPhase.Body) return;
    this.phase = OutputPhase.Draining;
    // A bodiless response lets the script run to its end as GET would (RFC 9110 §9.3.2); the timeout
    // still bounds it. A client that left gets its script killed.
    if (!this.bodyless) this.stop();
    this.child.stdout!.resume();
  }

  private onClose(code: number | null, signal: NodeJS.Signals | null): void {
    const stopped = this.state === ChildState.Stopping;
    const started = this.state !== ChildState.NotStarted;
    this.state = ChildState.Exited;
    clearTimeout(this.timer);
    // The SIGKILL is for members of the group that outlive the script; with none left, its id may be
    // given to an unrelated group before the timer fires, so it must not be sent.
    if (this.killTimer !== null && this.child.pid !== undefined && !groupExists(this.child.pid)) {
      clearTimeout(this.killTimer);
      this.killTimer = null;
    }
    this.registry.delete(this);
    discardScriptInput(this.input);
    if (!started) return;
    // After the head, the end of the body is stdout's 'end', not the exit.
    if (this.phase !== OutputPhase.Head) {
      if (code !== 0 && !stopped) {
        const reason =
          code === null ? `the script was killed by ${signal}` : `the script exited with code ${code}`;
        this.options.logError(reason, this.context);
      }
      return;
    }
    let message: string;
    if (this.head.length > 0) {
      message = "the script's output ended before the blank line that ends its header block (RFC 3875 §6.2)";
    } else if (code === null) {
      message = `the script was killed by ${signal} before writing a response`;
    } else if (code !== 0) {
      message = `the script exited with code ${code} before writing a response`;
    } else {
      message = 'the script exited without writing a response';
    }
    this.fail(502, message);
  }
}
