/**
 * The HTML listing links its folder's zip and tar.gz downloads when archives are on, and marks every
 * link a crawler should not follow (sort orders, archives) rel="nofollow".
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

test('the listing links its own zip and tar.gz downloads, which work', async () => {
  const server = await startDocroot({});
  try {
    const { responses } = await exchange(server.port, get('/docs/', 'Accept: text/html\r\n'));
    const links = anchors(responses[0]!.body.toString()).filter((a) => a.href?.includes('download='));
    assert.deepEqual(
      links.map((a) => [a.href, a.rel]),
      [
        ['?download=zip', 'nofollow'],
        ['?download=tar.gz', 'nofollow'],
      ],
    );
    for (const link of links) {
      const archive = await exchange(server.port, get(`/docs/${link.href}`, 'Connection: close\r\n'), {
        waitForClose: true,
      });
      assert.equal(archive.responses[0]?.status, 200, link.href);
    }
  } finally {
    await server.close();
  }
});

test('no download links when archives are off', async () => {
  const html = await listing({ archives: false });
  assert.equal(
    anchors(html).some((a) => a.href?.includes('download=')),
    false,
  );
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
