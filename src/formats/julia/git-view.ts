import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { LarderError } from '../../core/errors.js';
import type { Registry } from '../../registry/registry.js';
import type { Repo } from '../../registry/repos.js';
import { juliaDb } from './store.js';
import { processScratchDir } from '../../storage/staging.js';

const run = promisify(execFile);
// Fixed identity: with the tree, parent, time and message from the database, every node
// derives byte-identical commits, so every node serves the same commit ids.
const IDENTITY = { name: 'Larder', email: 'larder@localhost' };
const syncing = new Map<string, Promise<void>>();

/** Where a registry's bare git repository is kept (a cache: it can be deleted and rebuilt). */
function bareDir(registry: Registry, repo: Repo, uuid: string): string {
  return path.join(registry.config.data, 'julia-git', String(repo.id), `${uuid}.git`);
}

/**
 * Brings a registry's bare repository up to date with its recorded changes: each change is a
 * commit of that change's registry tree (taken from its stored tarball) on `master`.
 */
async function syncGitView(registry: Registry, repo: Repo, uuid: string): Promise<string> {
  const dir = bareDir(registry, repo, uuid);
  const key = dir;
  while (syncing.has(key)) await syncing.get(key);
  const work = (async () => {
    if (!fs.existsSync(path.join(dir, 'HEAD'))) {
      fs.mkdirSync(dir, { recursive: true });
      await run('git', ['init', '-q', '--bare', '--initial-branch=master', dir]);
    }
    const stateFile = path.join(dir, 'larder-applied');
    const applied = fs.existsSync(stateFile) ? Number(fs.readFileSync(stateFile, 'utf8')) : 0;
    const db = juliaDb(registry);
    const commits = await db
      .selectFrom('julia_commits')
      .selectAll()
      .where('repo_id', '=', repo.id)
      .where('registry_uuid', '=', uuid)
      .where('id', '>', applied)
      .orderBy('id')
      .execute();
    // Usually nothing is new: then no git process runs for this request at all.
    let parent = applied && commits.length ? (await run('git', ['--git-dir', dir, 'rev-parse', 'refs/heads/master'])).stdout.trim() : '';
    for (const c of commits) {
      await writeTree(registry, repo, uuid, c.tree_hash, dir);
      const env = {
        ...process.env,
        GIT_AUTHOR_NAME: IDENTITY.name,
        GIT_AUTHOR_EMAIL: IDENTITY.email,
        GIT_AUTHOR_DATE: `${c.at} +0000`,
        GIT_COMMITTER_NAME: IDENTITY.name,
        GIT_COMMITTER_EMAIL: IDENTITY.email,
        GIT_COMMITTER_DATE: `${c.at} +0000`,
      };
      const args = ['--git-dir', dir, 'commit-tree', c.tree_hash, ...(parent ? ['-p', parent] : []), '-m', c.message];
      parent = (await run('git', args, { env })).stdout.trim();
      await run('git', ['--git-dir', dir, 'update-ref', 'refs/heads/master', parent]).catch(async (err: unknown) => {
        // Another process on this data directory may be applying the same commit (same id) at once.
        const now = await run('git', ['--git-dir', dir, 'rev-parse', 'refs/heads/master']).then(
          (r) => r.stdout.trim(),
          () => '',
        );
        if (now !== parent) throw err;
      });
      fs.writeFileSync(stateFile, String(c.id));
    }
  })();
  syncing.set(key, work);
  try {
    await work;
  } finally {
    syncing.delete(key);
  }
  return dir;
}

/** Writes a registry tree's objects into the bare repository, from the tree's stored tarball. */
async function writeTree(registry: Registry, repo: Repo, uuid: string, treeHash: string, dir: string): Promise<void> {
  const has = await run('git', ['--git-dir', dir, 'cat-file', '-e', `${treeHash}^{tree}`]).then(
    () => true,
    () => false,
  );
  if (has) return;
  const row = await juliaDb(registry)
    .selectFrom('julia_tarballs')
    .select('sha256')
    .where('repo_id', '=', repo.id)
    .where('kind', '=', 'registry')
    .where('uuid', '=', uuid)
    .where('tree_hash', '=', treeHash)
    .executeTakeFirst();
  const blob = row ? await registry.blobs.open(row.sha256) : null;
  if (!blob) throw new LarderError('INTERNAL', `the tarball of registry tree ${treeHash} is missing`);
  const tmp = processScratchDir('gittree');
  try {
    const tarFile = path.join(tmp, 'tree.tar.gz');
    await new Promise<void>((resolve, reject) =>
      blob.stream().pipe(fs.createWriteStream(tarFile)).on('finish', resolve).on('error', reject),
    );
    const work = path.join(tmp, 'work');
    fs.mkdirSync(work);
    await run('tar', ['-xzf', tarFile, '-C', work]);
    const env = { ...process.env, GIT_INDEX_FILE: path.join(tmp, 'index') };
    await run('git', ['--git-dir', dir, '--work-tree', work, '-c', 'core.autocrlf=false', 'add', '-A'], { env });
    const written = (await run('git', ['--git-dir', dir, 'write-tree'], { env })).stdout.trim();
    if (written !== treeHash) throw new LarderError('INTERNAL', `registry tree ${treeHash} rebuilt as ${written}`);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/**
 * The paths git's dumb and smart HTTP clients ask for (as `git http-backend` serves them); anything
 * else, such as `objects/../../config`, never reaches the backend.
 */
const GIT_PATHS =
  /^(info\/refs|HEAD|git-upload-pack|objects\/info\/(packs|alternates|http-alternates)|objects\/[0-9a-f]{2}\/[0-9a-f]{38}|objects\/pack\/pack-[0-9a-f]{40}\.(pack|idx))$/;

/**
 * Serves a registry's git repository over smart HTTP (clone and fetch only) through git's own
 * `git http-backend`, so `pkg> registry add https://host/<repo>/<Name>.git` works.
 */
export async function serveGit(
  registry: Registry,
  repo: Repo,
  req: FastifyRequest,
  reply: FastifyReply,
  name: string,
  rest: string,
): Promise<void> {
  const reg = await juliaDb(registry)
    .selectFrom('julia_registries')
    .select('uuid')
    .where('repo_id', '=', repo.id)
    .where('name', '=', name)
    .executeTakeFirst();
  if (!reg) throw new LarderError('NOT_FOUND', `no git repository ${name}.git here`);
  if (!GIT_PATHS.test(rest))
    throw new LarderError(
      'NOT_FOUND',
      `${name}.git has no ${JSON.stringify(rest)}; only git's HTTP paths are served (info/refs, HEAD, git-upload-pack, objects/…)`,
    );
  const dir = await syncGitView(registry, repo, reg.uuid);
  const query = req.url.includes('?') ? req.url.slice(req.url.indexOf('?') + 1) : '';
  if (/service=git-receive-pack/.test(query) || rest === 'git-receive-pack')
    throw new LarderError('METHOD_NOT_ALLOWED', 'registries are changed through registration, not git push');
  const child = spawn('git', ['http-backend'], {
    env: {
      PATH: process.env.PATH,
      GIT_PROJECT_ROOT: path.dirname(dir),
      GIT_HTTP_EXPORT_ALL: '1',
      PATH_INFO: `/${path.basename(dir)}/${rest}`,
      QUERY_STRING: query,
      REQUEST_METHOD: req.method,
      CONTENT_TYPE: req.headers['content-type'] ?? '',
      HTTP_CONTENT_ENCODING: String(req.headers['content-encoding'] ?? ''),
      GIT_PROTOCOL: String(req.headers['git-protocol'] ?? ''),
      REMOTE_ADDR: req.ip,
    },
    stdio: ['pipe', 'pipe', 'ignore'],
  });
  reply.hijack();
  const res = reply.raw;
  // git may stop reading early (a bad request); that must not become an unhandled EPIPE.
  child.stdin.on('error', () => {});
  child.on('error', (err) => req.log.error({ reqId: req.id, err }, 'git http-backend could not run'));
  if (req.method === 'POST') req.raw.pipe(child.stdin);
  else child.stdin.end();
  // CGI: headers (with an optional Status line), a blank line, then the body.
  let head = Buffer.alloc(0);
  let headersDone = false;
  child.stdout.on('data', (chunk: Buffer) => {
    if (headersDone) {
      res.write(chunk);
      return;
    }
    head = Buffer.concat([head, chunk]);
    const end = head.indexOf('\r\n\r\n') >= 0 ? head.indexOf('\r\n\r\n') : head.indexOf('\n\n');
    if (end < 0) return;
    const sep = head[end] === 0x0d ? 4 : 2;
    const headers: Record<string, string> = {};
    let status = 200;
    for (const line of head.subarray(0, end).toString('latin1').split(/\r?\n/)) {
      const colon = line.indexOf(':');
      const key = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      if (key === 'status') status = Number.parseInt(value, 10) || 200;
      else if (key) headers[key] = value;
    }
    headersDone = true;
    res.writeHead(status, { ...headers, 'x-request-id': req.id });
    res.write(head.subarray(end + sep));
  });
  await new Promise<void>((resolve) => {
    child.on('close', () => {
      if (!headersDone) res.writeHead(502, { 'content-type': 'text/plain' }).end('git http-backend failed\n');
      else res.end();
      resolve();
    });
  });
}
