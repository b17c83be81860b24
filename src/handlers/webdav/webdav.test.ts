/** Table-driven tests of the pure parts of WebDAV: the If header, lock table timing, XML limits, references. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { splitReference } from './context.js';
import { evaluateIfList, type IfList, parseIfHeader, submittedTokens } from './if-header.js';
import { grantedTimeout, isWithin, LockTable, MAX_LOCK_TIMEOUT_SECONDS } from './locks.js';
import { MAX_XML_DEPTH, parseXml, serializeChildren, XmlBodyError } from './xml.js';

describe('parseIfHeader (RFC 4918 §10.4)', () => {
  const cases: [string, IfList[] | null][] = [
    ['(<urn:a>)', [{ resource: null, conditions: [{ not: false, kind: 'token', value: 'urn:a' }] }]],
    [
      '(<urn:a> ["e1"]) (Not <DAV:no-lock> [W/"e2"])',
      [
        {
          resource: null,
          conditions: [
            { not: false, kind: 'token', value: 'urn:a' },
            { not: false, kind: 'etag', value: '"e1"' },
          ],
        },
        {
          resource: null,
          conditions: [
            { not: true, kind: 'token', value: 'DAV:no-lock' },
            { not: false, kind: 'etag', value: 'W/"e2"' },
          ],
        },
      ],
    ],
    [
      '<http://h/a> (<urn:a>) <http://h/b> (["x"])',
      [
        { resource: 'http://h/a', conditions: [{ not: false, kind: 'token', value: 'urn:a' }] },
        { resource: 'http://h/b', conditions: [{ not: false, kind: 'etag', value: '"x"' }] },
      ],
    ],
    ['(NOT<urn:a>)', [{ resource: null, conditions: [{ not: true, kind: 'token', value: 'urn:a' }] }]],
    ['', null],
    ['()', null],
    ['(<urn:a>', null],
    ['<http://h/a>', null],
    ['(<urn:a>) <http://h/a> (<urn:b>)', null],
    ['(urn:a)', null],
    ['([])', null],
    [`(${'<urn:a> '.repeat(5000)})`, null],
  ];
  for (const [input, expected] of cases) {
    test(JSON.stringify(input.slice(0, 60)), () => assert.deepEqual(parseIfHeader(input), expected));
  }

  test('evaluation: every condition of a list must hold; Not inverts; weak ETags never match', () => {
    const state = { etag: '"e1"', hasLock: (token: string) => token === 'urn:a' };
    const holds = (header: string) => evaluateIfList(parseIfHeader(header)![0]!, state);
    assert.equal(holds('(<urn:a>)'), true);
    assert.equal(holds('(<urn:b>)'), false);
    assert.equal(holds('(Not <urn:b>)'), true);
    assert.equal(holds('(<urn:a> ["e1"])'), true);
    assert.equal(holds('(<urn:a> ["e2"])'), false);
    assert.equal(holds('([W/"e1"])'), false);
    assert.equal(holds('(Not ["e1"])'), false);
    assert.equal(evaluateIfList(parseIfHeader('(["e1"])')![0]!, { etag: null, hasLock: () => false }), false);
  });

  test('submitted tokens are the ones not under Not', () => {
    assert.deepEqual(
      [...submittedTokens(parseIfHeader('(<urn:a>) (Not <urn:b>) <http://x/> (<urn:c>)') ?? [])],
      [],
    );
    assert.deepEqual(
      [...submittedTokens(parseIfHeader('(<urn:a>) (Not <urn:b> <urn:c>)')!)],
      ['urn:a', 'urn:c'],
    );
  });
});

describe('locks', () => {
  test('Timeout header: first understood value, capped; Infinite gets the default', () => {
    assert.equal(grantedTimeout(undefined), 3600);
    assert.equal(grantedTimeout('Second-60'), 60);
    assert.equal(grantedTimeout('Infinite, Second-60'), 3600);
    assert.equal(grantedTimeout('bogus, Second-5'), 5);
    assert.equal(grantedTimeout('Second-99999999999'), 3600);
    assert.equal(grantedTimeout(`Second-${MAX_LOCK_TIMEOUT_SECONDS + 1}`), MAX_LOCK_TIMEOUT_SECONDS);
    assert.equal(grantedTimeout('Second-0'), 1);
  });

  test('a lock expires at its timeout and a refresh extends it', () => {
    let now = 1_000_000;
    const table = new LockTable(() => now);
    const lock = table.create('/a', 'exclusive', '0', '', 10);
    assert.equal(table.covering('/a').length, 1);
    now += 9_000;
    assert.equal(table.secondsLeft(lock), 1);
    table.refresh(lock, 10);
    now += 9_000;
    assert.equal(table.byToken(lock.token), lock);
    now += 1_000;
    assert.equal(table.byToken(lock.token), undefined);
    assert.deepEqual(table.covering('/a'), []);
  });

  test('scope: depth infinity covers members; conflicts follow the scope rules (RFC 4918 §6.2)', () => {
    const table = new LockTable();
    table.create('/dir', 'shared', 'infinity', '', 60);
    assert.equal(table.covering('/dir/x/y').length, 1);
    assert.equal(table.covering('/dirt').length, 0);
    assert.equal(table.conflicts('/dir/x', 'shared', '0').length, 0);
    assert.equal(table.conflicts('/dir/x', 'exclusive', '0').length, 1);
    assert.equal(table.conflicts('/', 'exclusive', '0').length, 0);
    assert.equal(table.conflicts('/', 'exclusive', 'infinity').length, 1);
    table.removeBelow('/');
    assert.equal(table.size, 0);
    assert.equal(isWithin('/', '/anything'), true);
    assert.equal(isWithin('/a', '/ab'), false);
  });
});

describe('XML bodies', () => {
  const refused: [string, number, RegExp][] = [
    ['<a>', 400, /not accepted/],
    ['<!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>', 400, /DOCTYPE/],
    ['<a>&undefined;</a>', 400, /not accepted/],
    [`${'<a>'.repeat(MAX_XML_DEPTH + 1)}${'</a>'.repeat(MAX_XML_DEPTH + 1)}`, 400, /nested deeper/],
    ['<a xmlns:p=""><p:b/></a>', 400, /not accepted/],
    ['', 400, /root element|not accepted/],
  ];
  for (const [input, status, message] of refused) {
    test(`refuses ${JSON.stringify(input.slice(0, 40))}`, () => {
      assert.throws(
        () => parseXml(input),
        (error: unknown) =>
          error instanceof XmlBodyError && error.status === status && message.test(error.message),
      );
    });
  }

  test('namespaces are resolved and values serialise standalone', () => {
    const root = parseXml(
      '<D:prop xmlns:D="DAV:" xmlns:t="urn:t"><t:v a="1" t:b="2">x &amp; <y xmlns="urn:y">z</y>&#65536;</t:v></D:prop>',
    );
    assert.equal(root.ns, 'DAV:');
    assert.equal(root.local, 'prop');
    assert.equal(
      serializeChildren(root),
      '<v xmlns="urn:t" a="1" xmlns:a1="urn:t" a1:b="2">x &amp; <y xmlns="urn:y">z</y>\u{10000}</v>',
    );
  });
});

describe('splitReference (Destination, If resource tags)', () => {
  const cases: [string, { authority: string | null; path: string } | null][] = [
    ['/a/b', { authority: null, path: '/a/b' }],
    ['http://h:8080/a%20b?q#f', { authority: 'h:8080', path: '/a%20b' }],
    ['https://h', { authority: 'h', path: '/' }],
    ['http://h/a/%2e%2e/b', { authority: 'h', path: '/a/%2e%2e/b' }],
    ['ftp://h/a', null],
    ['a/b', null],
    ['//h/a', null],
  ];
  for (const [input, expected] of cases) {
    test(input, () => assert.deepEqual(splitReference(input), expected));
  }
});
