/**
 * The lecture's notation for HTTP on the wire, shared by `--trace` (the server's view) and
 * `docroot request` (the client's view): one output line per protocol line, line endings made visible,
 * bodies shown as text when they are short printable text and summarised otherwise.
 *
 *     C (-->): GET / HTTP/1.1<CRLF>
 *     S (<--): HTTP/1.1 200 OK<CRLF>
 *     S (<--): [1024 bytes of text/html]
 *
 * @module
 */

/** Who sent the bytes: the client (`C (-->)`) or the server (`S (<--)`). */
export type Sender = 'client' | 'server';

const PREFIX: Readonly<Record<Sender, string>> = { client: 'C (-->): ', server: 'S (<--): ' };

/** Bodies up to this many bytes are shown as text when they are printable UTF-8. */
export const BODY_TEXT_LIMIT_BYTES = 4096;

const ANSI = {
  reset: '\x1b[0m',
  dim: '\x1b[2m',
  bold: '\x1b[1m',
  cyan: '\x1b[36m',
  green: '\x1b[32m',
  yellow: '\x1b[33m',
  magenta: '\x1b[35m',
} as const;

/** Writes notation lines, with or without ANSI colour. */
export class NotationFormatter {
  readonly color: boolean;

  constructor(color: boolean) {
    this.color = color;
  }

  private paint(code: string, text: string): string {
    return this.color ? `${code}${text}${ANSI.reset}` : text;
  }

  private prefix(sender: Sender): string {
    return this.paint(sender === 'client' ? ANSI.cyan : ANSI.green, PREFIX[sender]);
  }

  /** A `* …` line about the connection rather than its bytes. */
  event(text: string): string {
    return this.paint(ANSI.yellow, `* ${text}`);
  }

  /**
   * Protocol lines as the bytes have them: each line with its terminator named (`<CRLF>`, or a bare
   * `<LF>` / `<CR>`, which a strict peer rejects), other control characters as `\xHH`. `text` holds one
   * character per byte (latin1), so nothing is hidden by decoding.
   */
  protocolLines(sender: Sender, text: string): string[] {
    const lines: string[] = [];
    let start = 0;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c !== 0x0d && c !== 0x0a) continue;
      let terminator: string;
      let next = i + 1;
      if (c === 0x0d && text.charCodeAt(i + 1) === 0x0a) {
        terminator = '<CRLF>';
        next = i + 2;
      } else {
        terminator = c === 0x0d ? '<CR>' : '<LF>';
      }
      lines.push(this.line(sender, text.slice(start, i), terminator));
      start = next;
      i = next - 1;
    }
    if (start < text.length) lines.push(this.line(sender, text.slice(start), ''));
    return lines;
  }

  /**
   * HTTP/2 field lines (`:method: GET`, `content-type: text/html`), one per LF-separated line of `text`,
   * without terminators: HTTP/2 sends fields HPACK-coded in frames, so there is no CRLF to show.
   */
  fieldLines(sender: Sender, text: string): string[] {
    const lines: string[] = [];
    for (const line of text.split('\n')) if (line !== '') lines.push(this.line(sender, line, ''));
    return lines;
  }

  /** A body: its lines when it is short printable UTF-8 text, else a one-line summary. */
  body(sender: Sender, bytes: Buffer, contentType: string | undefined): string[] {
    if (bytes.length === 0) return [];
    const shown = bytes.length > BODY_TEXT_LIMIT_BYTES ? bytes.subarray(0, BODY_TEXT_LIMIT_BYTES) : bytes;
    const text = printableText(shown);
    if (text === null) return [this.summary(sender, bytes.length, contentType)];
    const lines = this.protocolLines(sender, text);
    if (shown.length < bytes.length) {
      lines.push(this.note(sender, `[… ${bytes.length - shown.length} more bytes]`));
    }
    return lines;
  }

  /** `[1024 bytes of text/html]`; a null length is a body of unknown length (chunked or close-delimited). */
  summary(sender: Sender, length: number | null, contentType: string | undefined): string {
    const size = length === null ? 'a body of unknown length' : `${length} byte${length === 1 ? '' : 's'}`;
    const type = contentType === undefined ? '' : ` of ${contentType}`;
    return this.note(sender, `[${size}${type}]`);
  }

  /** A line about the bytes rather than the bytes themselves, e.g. `[chunked body]`. */
  note(sender: Sender, text: string): string {
    return `${this.prefix(sender)}${this.paint(ANSI.magenta, text)}`;
  }

  private line(sender: Sender, content: string, terminator: string): string {
    return `${this.prefix(sender)}${escapeControls(content)}${terminator === '' ? '' : this.paint(ANSI.dim, terminator)}`;
  }
}

/** Control characters other than tab as `\xHH`, so a line never moves the cursor or rings the bell. */
function escapeControls(text: string): string {
  return text.replace(
    /[\x00-\x08\x0b-\x1f\x7f]/g,
    (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`,
  );
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** The bytes as text when they are valid UTF-8 without control characters (tab, CR, LF allowed). */
export function printableText(bytes: Buffer): string | null {
  let text: string;
  try {
    // A cut through a multi-byte character at the end is not a reason to call the body binary.
    text = UTF8.decode(trimPartialUtf8(bytes));
  } catch {
    return null;
  }
  return /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/.test(text) ? null : text;
}

function trimPartialUtf8(bytes: Buffer): Buffer {
  // Look back over at most three continuation bytes for a lead byte whose sequence is incomplete.
  for (let back = 1; back <= Math.min(4, bytes.length); back++) {
    const byte = bytes[bytes.length - back]!;
    if ((byte & 0xc0) === 0x80) continue;
    const needed = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1;
    return needed > back ? bytes.subarray(0, bytes.length - back) : bytes;
  }
  return bytes;
}

/** The media type (without parameters) named by a `Content-Type` field in a head, if there is one. */
export function contentTypeInHead(head: string): string | undefined {
  const match = /(?:^|\n)content-type:[ \t]*([^;\r\n]*)/i.exec(head);
  const type = match?.[1]?.trim();
  return type === undefined || type === '' ? undefined : type.toLowerCase();
}
