import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  checkedResponseFields,
  InvalidResponseFieldError,
  type Transport,
  transportOwnedFields,
} from './response-fields.js';
import { frozenFieldBlock } from './serialize.js';

describe('the one field-drop table', () => {
  const cases: ReadonlyArray<[string, Transport, boolean]> = [
    ['date', 'http/1.1', true],
    ['server', 'h2', true],
    ['content-length', 'node:http', true],
    ['transfer-encoding', 'h2', true],
    ['connection', 'http/1.1', true],
    ['keep-alive', 'node:http', true],
    ['upgrade', 'h2', true],
    ['upgrade', 'http/1.1', false],
    ['proxy-connection', 'h2', true],
    ['proxy-connection', 'node:http', false],
    ['etag', 'h2', false],
    ['content-type', 'http/1.1', false],
  ];
  for (const [name, transport, dropped] of cases) {
    test(`${name} on ${transport}: ${dropped ? 'the transport’s' : 'the handler’s'}`, () => {
      assert.equal(transportOwnedFields(transport).has(name), dropped);
      const kept = checkedResponseFields({ [name.toUpperCase()]: 'x' }, transport).length === 1;
      assert.equal(kept, !dropped);
    });
  }

  test('values are checked on every transport: CR, LF, NUL and non-Latin-1 are refused', () => {
    for (const transport of ['http/1.1', 'h2', 'node:http'] as const) {
      for (const value of ['a\r\nInjected: yes', 'a\nb', 'a\0b', 'caf\u20ac']) {
        assert.throws(() => checkedResponseFields({ 'X-A': value }, transport), InvalidResponseFieldError);
      }
      assert.throws(() => checkedResponseFields({ 'Bad Name': 'x' }, transport), InvalidResponseFieldError);
      assert.deepEqual(checkedResponseFields({ 'Set-Cookie': ['a=1', 'b=2'], Age: 3 }, transport), [
        ['Set-Cookie', ['a=1', 'b=2']],
        ['Age', '3'],
      ]);
    }
  });
});

describe('frozenFieldBlock', () => {
  test('serialises a frozen fields object once per length, with and without Content-Length', () => {
    const fields = Object.freeze({ 'Content-Type': 'text/plain', Date: 'dropped' });
    const sized = frozenFieldBlock(fields, 'Server: t\r\n', 5);
    assert.equal(sized.toString('latin1'), 'Server: t\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n');
    assert.equal(frozenFieldBlock(fields, 'Server: t\r\n', 5), sized);
    const bare = frozenFieldBlock(fields, 'Server: t\r\n', null);
    assert.equal(bare.toString('latin1'), 'Server: t\r\nContent-Type: text/plain\r\n');
    assert.equal(frozenFieldBlock(fields, 'Server: t\r\n', null), bare);
    assert.equal(frozenFieldBlock(fields, 'Server: t\r\n', 5), sized);
    assert.match(frozenFieldBlock(fields, 'Server: u\r\n', 5).toString('latin1'), /^Server: u\r\n/);
  });

  test('a bad field is refused, not cached', () => {
    const fields = Object.freeze({ 'X-Bad': 'a\r\nb' });
    assert.throws(() => frozenFieldBlock(fields, '', 1), InvalidResponseFieldError);
    assert.throws(() => frozenFieldBlock(fields, '', 1), InvalidResponseFieldError);
  });
});
