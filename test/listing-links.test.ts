/**
 * The HTML listing offers its folder's zip and tar.gz downloads (form buttons, which crawlers do not
 * press) when archives are on, and marks every link a crawler should not follow (sort orders) rel="nofollow".
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { exchange, get } from './helpers/raw-client.js';
import { startDocroot } from './helpers/servers.js';

/** Every `<a …>` start tag's attributes, by a small tag scanner (the listing escapes what it writes). */
function anchors(html: string): Array<Record<string, string>> {
  return [...html.matchAll(/<a\s([^>]*)>/g)].map((match) => {
    const attributes: Record<string, string> = {};
    for (const attribute of match[1]!.matchAll(/([a-z-]+)(?:="([^"]*)")?/g)) {
      attributes[attribute[1]!] = (attribute[2] ?? '').replaceAll('&amp;', '&');
    }
    return attributes;
  });
}

async function listing(options: Parameters<typeof startDocroot>[0], path = '/docs/'): Promise<string> {
  const server = await startDocroot(options);
  try {
    const { responses } = await exchange(server.port, get(path, 'Accept: text/html\r\n'));
    assert.equal(responses[0]?.status, 200);
    return responses[0]!.body.toString();
  } finally {
    await server.close();
  }
}

/** Every `<button …>` in a `#downloads` or `#selection` form, as [form id, name, value]. */
function downloadButtons(html: string): string[][] {
  const buttons: string[][] = [];
  for (const form of html.matchAll(/<form id="(downloads|selection)"[^>]*>(.*?)<\/form>/gs)) {
    for (const button of form[2]!.matchAll(/<button [^>]*name="([^"]*)" value="([^"]*)"/g)) {
      buttons.push([form[1]!, button[1]!, button[2]!]);
    }
  }
  return buttons;
}

test('the listing offers its own zip and tar.gz downloads as GET form buttons (no links to crawl), which work', async () => {
  const server = await startDocroot({});
  try {
    const { responses } = await exchange(server.port, get('/docs/', 'Accept: text/html\r\n'));
    const html = responses[0]!.body.toString();
    assert.deepEqual(downloadButtons(html), [
      ['downloads', 'download', 'zip'],
      ['downloads', 'download', 'tar.gz'],
      ['selection', 'download', 'selection'],
    ]);
    assert.match(html, /<form id="downloads" method="get" action=""/);
    assert.equal(
      anchors(html).some((a) => a.href?.includes('download=')),
      false,
    );
    for (const format of ['zip', 'tar.gz']) {
      const archive = await exchange(server.port, get(`/docs/?download=${format}`, 'Connection: close\r\n'), {
        waitForClose: true,
      });
      assert.equal(archive.responses[0]?.status, 200, format);
    }
  } finally {
    await server.close();
  }
});

test('no download buttons or selection checkboxes when archives are off', async () => {
  const html = await listing({ archives: false });
  assert.deepEqual(downloadButtons(html), []);
  assert.equal(html.includes('name="select"'), false);
});

test('every sort link is rel="nofollow"; the entries are not', async () => {
  const links = anchors(await listing({}));
  const sortLinks = links.filter((a) => a.href?.includes('sort='));
  assert.equal(sortLinks.length, 3);
  for (const link of sortLinks) assert.equal(link.rel, 'nofollow', link.href);
  const entries = links.filter((a) => a.class === 'name');
  assert.ok(entries.length > 0);
  for (const entry of entries) assert.equal(entry.rel, undefined, entry.href);
});
