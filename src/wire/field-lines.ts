/**
 * A request's field lines, validated by the parser but kept as offsets into their decoded text: a name,
 * a value, a lower-cased key and a `[name, value]` pair are made only for the fields someone reads. A
 * browser sends about a dozen fields per request and a hot-file answer reads four or five of them, so
 * this is most of what a browser head costs (bench/NOTES.md).
 *
 * `HttpRequest.headers` and `rawHeaders` stay ordinary-looking objects: each is a `Proxy` whose target
 * is the real record (or array), filled in once, the first time anyone enumerates, writes, deletes or
 * describes a property. Reading one field by name (`headers['accept-encoding']`, `'range' in headers`)
 * looks it up in the offsets instead and fills nothing.
 * @module
 */

/**
 * Header records are created by this constructor rather than `Object.create(null)`: V8 keeps such objects
 * in fast mode, and with no Object.prototype on the chain a field named `__proto__` or `constructor` is
 * just an own property.
 */
export const HeaderRecord = function HeaderRecord() {} as unknown as { new (): Record<string, string> };
HeaderRecord.prototype = Object.create(null);
// util.inspect (console.log) reads a proxy's target directly, without its traps, but calls a custom
// inspector found there on the proxy itself: show the fields rather than a target not filled in yet.
Object.defineProperty(HeaderRecord.prototype, Symbol.for('nodejs.util.inspect.custom'), {
  value(this: Record<string, string>): Record<string, string> {
    return Object.assign(Object.create(null) as Record<string, string>, this);
  },
});

/** The key under which a lazy header record hands out its `FieldLines` (see `fieldLinesOf`). */
const FIELD_LINES = Symbol('docroot.fieldLines');

/** Lower-cases an ASCII letter's code; every other code is returned as it is. */
function lowerCode(code: number): number {
  return code >= 0x41 && code <= 0x5a ? code + 0x20 : code;
}

/**
 * Where the fields a hot request reads whenever they are sent are: a span index (a multiple of 4), -1 when
 * the field is absent, -2 when it is repeated (then its lines are joined by the general lookup). The
 * parser recognises them by their bytes, so reading one costs no name comparison.
 */
export interface KnownFieldSpans {
  acceptEncoding: number;
  ifNoneMatch: number;
  ifModifiedSince: number;
}

/**
 * The field lines of one head. `text` is the header section decoded as latin1 (one character per byte);
 * `spans` holds four offsets into it per field: name start, name end, value start, value end (the value
 * already without its surrounding whitespace). Bit n of `nameLengths` is set when some name has n
 * characters (bit 31: 31 or more), so looking up a name no field has usually costs one test.
 */
export class FieldLines implements ProxyHandler<Record<string, string>> {
  private record: Record<string, string> | null = null;
  private pairs: Array<readonly [string, string]> | null = null;

  constructor(
    private readonly text: string,
    private readonly spans: readonly number[],
    private readonly nameLengths: number,
    private readonly known: Readonly<KnownFieldSpans>,
  ) {}

  /** How many field lines the head had. */
  get count(): number {
    return this.spans.length >> 2;
  }

  /**
   * The value of the field with this lower-case name, repeated lines joined as the header record joins
   * them (", ", or "; " for Cookie: RFC 9110 §5.3, RFC 6265 §5.4); undefined when absent.
   */
  value(key: string): string | undefined {
    if (this.record !== null) return this.record[key];
    const spans = this.spans;
    const text = this.text;
    const length = key.length;
    if ((this.nameLengths & (1 << Math.min(length, 31))) === 0) return undefined;
    const at =
      key === 'accept-encoding'
        ? this.known.acceptEncoding
        : key === 'if-none-match'
          ? this.known.ifNoneMatch
          : key === 'if-modified-since'
            ? this.known.ifModifiedSince
            : -2;
    if (at >= 0) return text.slice(spans[at + 2], spans[at + 3]);
    if (at === -1) return undefined;
    let found: string | undefined;
    for (let i = 0; i < spans.length; i += 4) {
      const start = spans[i]!;
      if (spans[i + 1]! - start !== length) continue;
      let j = 0;
      while (j < length && lowerCode(text.charCodeAt(start + j)) === key.charCodeAt(j)) j++;
      if (j !== length) continue;
      const value = text.slice(spans[i + 2], spans[i + 3]);
      found = found === undefined ? value : `${found}${key === 'cookie' ? '; ' : ', '}${value}`;
    }
    return found;
  }

  /** The header record (lower-cased names, repeated fields joined), built once. */
  materialise(target: Record<string, string>): Record<string, string> {
    if (this.record !== null) return this.record;
    const spans = this.spans;
    const text = this.text;
    for (let i = 0; i < spans.length; i += 4) {
      const key = text.slice(spans[i], spans[i + 1]).toLowerCase();
      const value = text.slice(spans[i + 2], spans[i + 3]);
      const previous = target[key];
      target[key] = previous === undefined ? value : `${previous}${key === 'cookie' ? '; ' : ', '}${value}`;
    }
    this.record = target;
    return target;
  }

  /** The field lines in arrival order with their names as sent, built once. */
  materialisePairs(target: Array<readonly [string, string]>): Array<readonly [string, string]> {
    if (this.pairs !== null) return this.pairs;
    const spans = this.spans;
    const text = this.text;
    for (let i = 0; i < spans.length; i += 4) {
      target.push([text.slice(spans[i], spans[i + 1]), text.slice(spans[i + 2], spans[i + 3])] as const);
    }
    this.pairs = target;
    return target;
  }

  // The header record's traps: reads by name stay lazy, everything else fills the target first.
  get(target: Record<string, string>, key: string | symbol): unknown {
    if (key === FIELD_LINES) return this;
    if (this.record !== null || typeof key !== 'string') return Reflect.get(target, key);
    return this.value(key);
  }

  has(target: Record<string, string>, key: string | symbol): boolean {
    if (this.record !== null || typeof key !== 'string') return Reflect.has(target, key);
    return this.value(key) !== undefined;
  }

  set(target: Record<string, string>, key: string | symbol, value: unknown): boolean {
    return Reflect.set(this.materialise(target), key, value);
  }

  deleteProperty(target: Record<string, string>, key: string | symbol): boolean {
    return Reflect.deleteProperty(this.materialise(target), key);
  }

  defineProperty(
    target: Record<string, string>,
    key: string | symbol,
    descriptor: PropertyDescriptor,
  ): boolean {
    return Reflect.defineProperty(this.materialise(target), key, descriptor);
  }

  ownKeys(target: Record<string, string>): ArrayLike<string | symbol> {
    return Reflect.ownKeys(this.materialise(target));
  }

  getOwnPropertyDescriptor(
    target: Record<string, string>,
    key: string | symbol,
  ): PropertyDescriptor | undefined {
    return Reflect.getOwnPropertyDescriptor(this.materialise(target), key);
  }

  preventExtensions(target: Record<string, string>): boolean {
    return Reflect.preventExtensions(this.materialise(target));
  }
}

/** The traps of the `rawHeaders` array: any use at all fills it first. */
class PairTraps implements ProxyHandler<Array<readonly [string, string]>> {
  constructor(private readonly lines: FieldLines) {}

  get(target: Array<readonly [string, string]>, key: string | symbol): unknown {
    return Reflect.get(this.lines.materialisePairs(target), key);
  }

  has(target: Array<readonly [string, string]>, key: string | symbol): boolean {
    return Reflect.has(this.lines.materialisePairs(target), key);
  }

  set(target: Array<readonly [string, string]>, key: string | symbol, value: unknown): boolean {
    return Reflect.set(this.lines.materialisePairs(target), key, value);
  }

  deleteProperty(target: Array<readonly [string, string]>, key: string | symbol): boolean {
    return Reflect.deleteProperty(this.lines.materialisePairs(target), key);
  }

  defineProperty(
    target: Array<readonly [string, string]>,
    key: string | symbol,
    descriptor: PropertyDescriptor,
  ): boolean {
    return Reflect.defineProperty(this.lines.materialisePairs(target), key, descriptor);
  }

  ownKeys(target: Array<readonly [string, string]>): ArrayLike<string | symbol> {
    return Reflect.ownKeys(this.lines.materialisePairs(target));
  }

  getOwnPropertyDescriptor(
    target: Array<readonly [string, string]>,
    key: string | symbol,
  ): PropertyDescriptor | undefined {
    return Reflect.getOwnPropertyDescriptor(this.lines.materialisePairs(target), key);
  }

  preventExtensions(target: Array<readonly [string, string]>): boolean {
    return Reflect.preventExtensions(this.lines.materialisePairs(target));
  }
}

/** The lazily built header record of these field lines. */
export function lazyHeaderRecord(lines: FieldLines): Record<string, string> {
  return new Proxy(new HeaderRecord(), lines);
}

/** The lazily built `[name, value]` list of these field lines. */
export function lazyFieldPairs(lines: FieldLines): Array<readonly [string, string]> {
  return new Proxy([], new PairTraps(lines));
}

/**
 * The field lines behind a header record made by the wire's parser, or null for any other record (one
 * built by HTTP/2, an adapter, or a handler that replaced `request.headers`). Reading fields through
 * `value()` costs no trip through the record's traps; the hot path uses it.
 */
export function fieldLinesOf(headers: Readonly<Record<string, string>>): FieldLines | null {
  const lines = (headers as unknown as { [FIELD_LINES]?: unknown })[FIELD_LINES];
  return lines instanceof FieldLines ? lines : null;
}
