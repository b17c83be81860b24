import { existsSync, readFileSync } from 'node:fs';
import type { Browser } from 'playwright-core';

/** Where Debian's chromium lives; CHROMIUM_PATH overrides it. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Why browser tests cannot run here, or null when they can. */
export function browserUnavailableReason(): string | null {
  if (!existsSync(CHROMIUM_PATH)) {
    return `no Chromium at ${CHROMIUM_PATH} (install the Debian package chromium, or set CHROMIUM_PATH)`;
  }
  return null;
}

/**
 * Chromium's flags for tests and `npm run screenshots` (one JSON file both read). Without the
 * background-networking flags Chromium keeps dialling out, which a closed network refuses.
 */
export const CHROMIUM_FLAGS: readonly string[] = JSON.parse(
  readFileSync(new URL('../../../test/helpers/chromium-flags.json', import.meta.url), 'utf8'),
);

export async function launchChromium(): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [...CHROMIUM_FLAGS],
  });
}
