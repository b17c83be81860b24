import { readFileSync } from 'node:fs';

/**
 * Reads the package version once at start-up, so `Server:` and `--version` always agree with
 * package.json. The module sits at dist/version.js when built, or one folder deeper in the test build.
 */
function readVersion(): string {
  for (const relative of ['../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(relative, import.meta.url), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === 'docroot' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // Try the next candidate.
    }
  }
  return '0.0.0';
}

export const VERSION: string = readVersion();
