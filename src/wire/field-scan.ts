/**
 * The fast check of a request head's field lines, in WebAssembly (field-scan.wat): sixteen value bytes
 * per step instead of one, which is most of what a browser's ~500-byte head cost in JavaScript
 * (bench/NOTES.md). It only recognises plainly well-formed lines; the parser applies its exact rules to
 * anything else. Where WebAssembly SIMD is missing (`node --jitless`, an old runtime) every scan answers
 * "use the exact rules", which are correct and slower.
 * @module
 */
import { IS_TCHAR } from './chars.js';
import { FIELD_SCAN_WASM } from './field-scan-wasm.js';

/** Where field-scan.wat expects its tchar table (RFC 9110 §5.6.2). */
const TCHAR_TABLE_AT = 0;
/** Where the bytes to scan are copied. */
const INPUT_AT = 1024;
/**
 * The most bytes copied for one scan: a default-limit head (8 KiB request line + 16 KiB of fields,
 * RFC 9112 §2.3 leaves the limits to the server) fits; a longer one is left to the exact rules.
 */
const INPUT_CAPACITY = 32 * 1024;
/**
 * Bytes copied first. Most heads fit, and a pipelined batch is not copied whole for every head in it;
 * a scan that runs out of these bytes is repeated with up to `INPUT_CAPACITY`.
 */
const FIRST_COPY_BYTES = 2048;
/** Where the scanner writes the head's end and its name lengths, then `LINE_SLOTS` i32 per field line. */
const RESULTS_AT = INPUT_AT + INPUT_CAPACITY;
const LINES_AT = RESULTS_AT + 8;
const MEMORY_BYTES = 64 * 1024;
/** Name start, colon, value start, value end, name hash. */
export const LINE_SLOTS = 5;
/** How many field lines fit in the output area; a head with more goes to the exact rules. */
const LINES_CAPACITY = Math.floor((MEMORY_BYTES - LINES_AT) / (LINE_SLOTS * 4));

const NEEDS_EXACT_RULES = -1;
const OUT_OF_INPUT = -2;

interface FieldScanExports {
  memory: { buffer: ArrayBuffer };
  scan(pos: number, len: number, max: number, out: number, base: number): number;
}

/** The part of the WebAssembly API used here (the compiler's lib has no WebAssembly types without DOM). */
interface WebAssemblyApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: unknown };
}

function instantiate(): FieldScanExports | null {
  // Absent under `node --jitless`; a runtime without SIMD fails to compile the module.
  const wasm = (globalThis as { WebAssembly?: WebAssemblyApi }).WebAssembly;
  if (wasm === undefined) return null;
  try {
    const module = new wasm.Module(Buffer.from(FIELD_SCAN_WASM, 'base64'));
    const exports = new wasm.Instance(module).exports as FieldScanExports;
    new Uint8Array(exports.memory.buffer).set(IS_TCHAR, TCHAR_TABLE_AT);
    return exports;
  } catch {
    return null;
  }
}

const scanner = instantiate();
const memoryBytes = scanner === null ? new Uint8Array(0) : new Uint8Array(scanner.memory.buffer);

/** Whether field lines are scanned in WebAssembly on this runtime (otherwise only the exact rules run). */
export const fieldScanAvailable = scanner !== null;

/**
 * The lines of the last successful `scanFieldLines`, `LINE_SLOTS` numbers per line: name start, colon,
 * value start and value end (without OWS) as offsets from the scan's `base`, then the name's hash
 * (`fieldNameHash`). Valid until the next scan.
 */
export const scannedFieldLines: Int32Array =
  scanner === null
    ? new Int32Array(0)
    : new Int32Array(scanner.memory.buffer, LINES_AT, LINES_CAPACITY * LINE_SLOTS);

const scanResults: Int32Array =
  scanner === null ? new Int32Array(2) : new Int32Array(scanner.memory.buffer, RESULTS_AT, 2);

/** Where the head ended (just past the empty line's CRLF), from `base`, in the last successful scan. */
export function scannedHeadEnd(): number {
  return scanResults[0]!;
}

/** Bit n set: some name in the last successful scan has n bytes (bit 31: 31 or more). */
export function scannedNameLengths(): number {
  return scanResults[1]!;
}

/** The hash field-scan.wat computes of a field name: h * 31 + (code | 0x20) per byte, in 32 bits. */
export function fieldNameHash(name: string): number {
  let hash = 0;
  for (let i = 0; i < name.length; i++) hash = (Math.imul(hash, 31) + (name.charCodeAt(i) | 0x20)) | 0;
  return hash;
}

/**
 * Scans the field lines of `buf` from `from` up to and including the empty line that ends the head.
 * Returns how many lines there are (in `scannedFieldLines`, offsets from `base`; the head's end from
 * `scannedHeadEnd()`), or -1 when the exact rules must decide: a line that is not plainly well-formed,
 * more than `maxLines` lines, a head longer than what is copied, or no end yet.
 */
export function scanFieldLines(buf: Buffer, from: number, base: number, maxLines: number): number {
  if (scanner === null) return NEEDS_EXACT_RULES;
  try {
    return scanCopied(scanner, buf, from, base, maxLines);
  } catch {
    // The scan stays inside its memory by construction, so a trap would be a bug of ours: the exact rules
    // still answer, and no input can throw out of the parser (the differential tests would see the miss).
    return NEEDS_EXACT_RULES;
  }
}

function scanCopied(
  scanner: FieldScanExports,
  buf: Buffer,
  from: number,
  base: number,
  maxLines: number,
): number {
  const max = Math.min(maxLines, LINES_CAPACITY);
  let copied = Math.min(buf.length, FIRST_COPY_BYTES);
  memoryBytes.set(copied === buf.length ? buf : buf.subarray(0, copied), INPUT_AT);
  let count = scanner.scan(INPUT_AT + from, INPUT_AT + copied, max, RESULTS_AT, INPUT_AT + base);
  if (count === OUT_OF_INPUT && copied < buf.length && copied < INPUT_CAPACITY) {
    const more = Math.min(buf.length, INPUT_CAPACITY);
    memoryBytes.set(buf.subarray(copied, more), INPUT_AT + copied);
    copied = more;
    count = scanner.scan(INPUT_AT + from, INPUT_AT + copied, max, RESULTS_AT, INPUT_AT + base);
  }
  return count < 0 ? NEEDS_EXACT_RULES : count;
}
