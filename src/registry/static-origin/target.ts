/** Where a static origin's files go: a directory, or an S3-compatible bucket under a prefix. */
import { parseS3Url } from '../../storage/s3-blobs.js';
import { FsStaticTarget } from './fs-target.js';
import { S3StaticTarget } from './s3-target.js';

/** A tree of files named by URL path (relative to the repo's prefix), each replaced whole. */
export interface StaticTarget {
  /** How messages name it: the directory, or s3://bucket/prefix (never credentials or the query string). */
  readonly label: string;
  /** Replaces the file at `path` with `body` atomically: a reader sees the old bytes or the new ones, never a part. */
  put(path: string, body: Buffer, contentType: string): Promise<void>;
  /** Deletes the file at `path`; nothing there is not an error. */
  delete(path: string): Promise<void>;
  /** Every file held, with the MD5 hex of its bytes (what a sync compares); leftovers of interrupted writes are included. */
  list(): AsyncIterable<{ path: string; md5: string }>;
  close(): Promise<void>;
}

/** Opens the target a `static_origin` setting names: `s3://bucket/prefix?endpoint=…` or an absolute directory. */
export async function openStaticTarget(setting: string): Promise<StaticTarget> {
  return setting.startsWith('s3://') ? S3StaticTarget.open(parseS3Url(setting)) : new FsStaticTarget(setting);
}

/**
 * Refuses a path that could leave the tree: the formats' document paths are checked on write already, so this is a
 * second guard, not a parser.
 */
export function checkedPath(path: string): string {
  const parts = path.split('/');
  if (parts.some((p) => p === '' || p === '.' || p === '..') || path.includes('\\') || path.includes('\0')) {
    throw new Error(`not a static origin path: ${JSON.stringify(path)}`);
  }
  return path;
}

/**
 * The Content-Type an object store should answer a path with (nginx takes it from its own config; see
 * docs/deploy/nginx-static-origin.conf). Formats label documents by extension, except Brioche's tags (JSON, no extension).
 */
export function staticContentType(path: string): string {
  if (path.endsWith('.json') || path.startsWith('registry/v0/project-tags/')) return 'application/json';
  if (path.endsWith('.index')) return 'application/x-ndjson; charset=utf-8';
  if (path.endsWith('.zip')) return 'application/zip';
  if (path.endsWith('.yml') || path.endsWith('.yaml')) return 'text/yaml; charset=utf-8';
  return 'text/plain; charset=utf-8';
}
