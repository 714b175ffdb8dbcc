/**
 * What `larder serve` prints for a Brioche repo (protocols/brioche.md §1, §3.3): the
 * `~/.config/brioche/config.toml` to write, and for a hosted repo the environment `brioche publish`
 * needs (S3 keys for cache writes, the registry password or a token for tags).
 */
import type { ClientSetup, ClientSetupOptions } from '../../registry/format.js';
import type { Repo } from '../../registry/repos.js';
import { OFFICIAL_REGISTRY } from './proxy.js';

/** The registry URL brioche joins `v0/…` onto: it must end with `/`, or brioche asks the parent path (trap 1). */
export function registryUrl(baseUrl: string, repo: Pick<Repo, 'name'>): string {
  return `${baseUrl.replace(/\/+$/, '')}/${repo.name}/registry/`;
}

/** The HTTP cache URL: no trailing slash, or brioche asks `…//projects/…` (trap 2). */
export function cacheUrl(baseUrl: string, repo: Pick<Repo, 'name'>): string {
  return `${baseUrl.replace(/\/+$/, '')}/${repo.name}/cache`;
}

/** The S3-compatible endpoint brioche writes through (`AWS_ENDPOINT_URL_S3`); the bucket is the repo name. */
export function s3Endpoint(baseUrl: string): string {
  return `${baseUrl.replace(/\/+$/, '')}/-/s3`;
}

/**
 * The lines of `~/.config/brioche/config.toml` for a repo: the registry and the cache, written through S3 when
 * `write` (a hosted repo one publishes to), else read-only. A private cache is read through S3 too: the HTTP
 * backend sends no credentials.
 */
export function configLines(repo: Pick<Repo, 'name' | 'visibility'>, baseUrl: string, { write }: { write: boolean }): string[] {
  return [
    `registry_url = "${registryUrl(baseUrl, repo)}"`,
    '[cache]',
    repo.visibility === 'private' ? `url = "s3://${repo.name}"` : `url = "${cacheUrl(baseUrl, repo)}"`,
    write ? `write_url = "s3://${repo.name}"` : 'read_only = true',
    ...(/^http:\/\//i.test(baseUrl) ? ['allow_http = true'] : []),
  ];
}

/** The S3 settings brioche reads a private cache (or writes any cache) with; the bucket is the repo. */
export function s3Env(baseUrl: string, keyId = '<key id>'): string {
  return `export AWS_ENDPOINT_URL_S3=${s3Endpoint(baseUrl)} AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=${keyId} AWS_SECRET_ACCESS_KEY=<secret>`;
}

/** What brioche must send to a private repo on every request, or every resolve fails (trap 14). */
export const PRIVATE_PASSWORD = 'export BRIOCHE_REGISTRY_PASSWORD=<a token with read scope, or the repo password>';

/** The printed setup of one Brioche repo; `url` is the registry URL brioche is given. */
export function briocheClientSetup(repo: Repo, baseUrl: string, opts: ClientSetupOptions): ClientSetup {
  const registry = registryUrl(baseUrl, repo);
  const priv = repo.visibility === 'private';
  const hosted = repo.kind === 'hosted';
  const lines = [
    '# ~/.config/brioche/config.toml (keep the trailing "/" of registry_url, and none on cache.url):',
    ...configLines(repo, baseUrl, { write: hosted }),
  ];
  const keys = s3Env(baseUrl);
  if (hosted) {
    lines.push(
      '# to publish (brioche publish), in its shell; the key pair comes from `larder token create --s3 --scopes publish --repo ' +
        `${repo.name}\`:`,
      `#   ${keys}`,
      `#   export BRIOCHE_REGISTRY_PASSWORD=<that token, or the repo password set with \`larder brioche set-password ${repo.name}\`>`,
    );
  } else if (repo.kind === 'proxy') {
    lines.push(`# a read-only cache of ${repo.upstream ?? OFFICIAL_REGISTRY}: tags kept briefly, cache objects verified and kept`);
  } else {
    lines.push(`# tags of ${(repo.members ?? []).join(', ')} (hosted first) and objects of any member; publish to a hosted member`);
  }
  if (priv)
    lines.push(
      '# private: brioche must send credentials on every request, or every resolve fails (trap 14):',
      `#   ${PRIVATE_PASSWORD}`,
      `#   ${s3Env(baseUrl, '<read key id>')}   (cache reads go through S3)`,
    );
  if (opts.caCertPath) lines.push(`# trust the local CA: add ${opts.caCertPath} to the system store (or SSL_CERT_FILE) for brioche`);
  return { url: registry, snippet: lines.join('\n') };
}
