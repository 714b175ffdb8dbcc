/**
 * The UI's static assets, fingerprinted by content: a URL names exactly one version of a file, so it is served
 * with `Cache-Control: immutable` and a new release never meets a stale copy.
 */
import { createHash } from 'node:crypto';
import { PAGE_SCRIPT } from './script.js';
import { STYLE_CSS } from './style.js';

export interface StaticAsset {
  /** The fingerprinted file name under /-/static/. */
  file: string;
  type: string;
  body: Buffer;
}

function asset(stem: string, ext: string, type: string, text: string): StaticAsset {
  const body = Buffer.from(text, 'utf8');
  const hash = createHash('sha256').update(body).digest('hex').slice(0, 12);
  return { file: `${stem}.${hash}.${ext}`, type, body };
}

export const STYLE = asset('style', 'css', 'text/css; charset=utf-8', STYLE_CSS);
export const SCRIPT = asset('page', 'js', 'text/javascript; charset=utf-8', PAGE_SCRIPT);

/** Every asset by file name, as /-/static/ serves them. */
export const ASSETS: ReadonlyMap<string, StaticAsset> = new Map([STYLE, SCRIPT].map((a) => [a.file, a]));

/** The URL of an asset, as pages link it. */
export function assetUrl(a: StaticAsset): string {
  return `/-/static/${a.file}`;
}
