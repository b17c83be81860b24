import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pickReadme, renderMarkdown, resolveRelative, wantsRenderedView } from './markdown.js';

describe('README choice', () => {
  const cases: Array<[string[], string | null]> = [
    [['a.txt', 'README.txt', 'index.md', 'Readme.md'], 'Readme.md'],
    [['README.txt', 'index.md'], 'index.md'],
    [['readme.TXT'], 'readme.TXT'],
    [['README', 'readme.rst', 'notes.md'], null],
    [[], null],
  ];
  for (const [names, expected] of cases) {
    it(`${names.join(', ') || '(empty)'} → ${expected}`, () => assert.equal(pickReadme(names), expected));
  }
});

describe('relative targets resolved against the folder', () => {
  const cases: Array<[string, string, boolean, string]> = [
    ['img/logo.png', '/docs/', false, '/docs/img/logo.png'],
    ['../up.txt', '/docs/guide/', true, '/docs/up.txt'],
    ['../../../../x', '/docs/', true, '/x'],
    ['other.md', '/docs/', true, '/docs/other.md?view=rendered'],
    ['other.md#part', '/docs/', true, '/docs/other.md?view=rendered#part'],
    ['other.md?x=1', '/docs/', true, '/docs/other.md?x=1'],
    ['other.md', '/docs/', false, '/docs/other.md'],
    ['a%20b.png', '/caf%C3%A9/', false, '/caf%C3%A9/a%20b.png'],
    ['#section', '/docs/', true, '#section'],
    ['https://example.com/a.md', '/docs/', true, 'https://example.com/a.md'],
    ['//cdn.example/x', '/docs/', true, '//cdn.example/x'],
    ['mailto:a@example.com', '/docs/', true, 'mailto:a@example.com'],
  ];
  for (const [target, folder, isLink, expected] of cases) {
    it(`${target} from ${folder} → ${expected}`, () =>
      assert.equal(resolveRelative(target, folder, isLink), expected));
  }
});

describe('rendering is safe', () => {
  it('raw HTML is shown as text, never passed through', async () => {
    const html = await renderMarkdown('<script>alert(1)</script>\n\n<img src=x onerror=alert(1)>', '/');
    assert.ok(!html.includes('<script'), html);
    assert.ok(!html.includes('<img'), html);
    assert.ok(html.includes('&lt;script&gt;'), html);
  });

  it('script URLs are not made into links or images', async () => {
    const html = await renderMarkdown(
      '[a](javascript:alert(1)) [b](vbscript:x) [c](data:text/html,<b>) ![d](javascript:x)',
      '/',
    );
    assert.ok(!/href="(javascript|vbscript|data):/i.test(html), html);
    assert.ok(!/src="javascript:/i.test(html), html);
  });

  it('relative links and images point into the folder; attribute quotes are escaped', async () => {
    const html = await renderMarkdown('[guide](guide.md) ![logo "x"](img/logo.png "a \\"t\\"")', '/docs/');
    assert.ok(html.includes('href="/docs/guide.md?view=rendered"'), html);
    assert.ok(html.includes('src="/docs/img/logo.png"'), html);
    assert.ok(html.includes('alt="logo &quot;x&quot;"'), html);
  });
});

describe('?view=rendered', () => {
  const cases: Array<[string, boolean]> = [
    ['view=rendered', true],
    ['a=1&view=rendered', true],
    ['', false],
    ['view=raw', false],
    ['view=Rendered', false],
  ];
  for (const [query, expected] of cases) {
    it(`${query || '(none)'} → ${expected}`, () => assert.equal(wantsRenderedView(query), expected));
  }
});
