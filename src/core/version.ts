/**
 * Larder's version, read once from package.json (two levels up from both src/core and dist/core), for
 * the User-Agent upstreams see and for `larder --version`.
 */
import { readFileSync } from 'node:fs';

function readVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : '0.0.0';
  } catch {
    return '0.0.0';
  }
}

/** The version in package.json. */
export const LARDER_VERSION = readVersion();

/** What every outbound request says it is: upstream operators can tell Larder's traffic apart. */
export const USER_AGENT = `larder/${LARDER_VERSION}`;
