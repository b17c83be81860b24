import assert from 'node:assert/strict';
import { test } from 'node:test';
import { contentTypeFor, DEFAULT_CONTENT_TYPE, isCompressibleType } from './mime.js';

const typeCases: Array<{ fileName: string; expected: string }> = [
  { fileName: 'index.html', expected: 'text/html; charset=utf-8' },
  { fileName: 'style.css', expected: 'text/css; charset=utf-8' },
  { fileName: 'notes.txt', expected: 'text/plain; charset=utf-8' },
  { fileName: 'app.js', expected: 'text/javascript; charset=utf-8' },
  { fileName: 'module.mjs', expected: 'text/javascript; charset=utf-8' },
  { fileName: 'data.json', expected: 'application/json; charset=utf-8' },
  { fileName: 'site.webmanifest', expected: 'application/manifest+json; charset=utf-8' },
  { fileName: 'README.md', expected: 'text/markdown; charset=utf-8' },
  { fileName: 'script.py', expected: 'text/x-python; charset=utf-8' },
  { fileName: 'main.go', expected: 'text/x-go; charset=utf-8' },
  { fileName: 'logo.svg', expected: 'image/svg+xml' },
  { fileName: 'feed.xml', expected: 'application/xml' },
  { fileName: 'photo.png', expected: 'image/png' },
  { fileName: 'photo.JPG', expected: 'image/jpeg' },
  { fileName: 'module.wasm', expected: 'application/wasm' },
  { fileName: 'archive.tar.gz', expected: 'application/gzip' },
  { fileName: '/srv/www/docs/page.html', expected: 'text/html; charset=utf-8' },
  { fileName: 'unknown.qqqzzz', expected: DEFAULT_CONTENT_TYPE },
  { fileName: 'Makefile', expected: DEFAULT_CONTENT_TYPE },
  { fileName: '.bashrc', expected: DEFAULT_CONTENT_TYPE },
  { fileName: 'dir.d/file', expected: DEFAULT_CONTENT_TYPE },
  { fileName: 'trailing.', expected: DEFAULT_CONTENT_TYPE },
];

for (const { fileName, expected } of typeCases) {
  test(`contentTypeFor(${JSON.stringify(fileName)}) is ${expected}`, () => {
    assert.equal(contentTypeFor(fileName), expected);
  });
}

const compressibleCases: Array<{ contentType: string; expected: boolean }> = [
  { contentType: 'text/html; charset=utf-8', expected: true },
  { contentType: 'application/json', expected: true },
  { contentType: 'text/javascript', expected: true },
  { contentType: 'image/svg+xml', expected: true },
  { contentType: 'TEXT/CSS', expected: true },
  { contentType: 'text/x-unknown-to-mime-db', expected: true },
  { contentType: 'image/png', expected: false },
  { contentType: 'application/gzip', expected: false },
  { contentType: 'application/octet-stream', expected: false },
  { contentType: 'application/x-unknown-to-mime-db', expected: false },
];

for (const { contentType, expected } of compressibleCases) {
  test(`isCompressibleType(${JSON.stringify(contentType)}) is ${expected}`, () => {
    assert.equal(isCompressibleType(contentType), expected);
  });
}
