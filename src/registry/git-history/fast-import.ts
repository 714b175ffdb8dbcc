import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { LarderError } from '../../core/errors.js';
import type { GitFileMode } from './record.js';

/**
 * The one identity of every commit: with the tree, parent, time and message from the database,
 * every node writes byte-identical commit objects (the same as `git commit-tree -m` with these).
 */
export const GIT_IDENTITY = 'Larder <larder@localhost>';

/** A C-style quoted path for fast-import: raw UTF-8 bytes, `"` and `\` escaped, control bytes octal. */
export function quotePath(p: string): Buffer {
  const out: number[] = [0x22];
  for (const b of Buffer.from(p, 'utf8')) {
    if (b === 0x22 || b === 0x5c) out.push(0x5c, b);
    else if (b < 0x20 || b === 0x7f) out.push(...Buffer.from(`\\${b.toString(8).padStart(3, '0')}`, 'latin1'));
    else out.push(b);
  }
  out.push(0x22);
  return Buffer.from(out);
}

/** Writes a `git fast-import` stream with backpressure; `finish` waits for git and throws what it said. */
export class FastImport {
  private readonly child;
  private stderr = '';
  private readonly exited: Promise<number | null>;

  constructor(gitDir: string) {
    this.child = spawn('git', ['--git-dir', gitDir, 'fast-import', '--quiet', '--date-format=raw', '--done'], {
      // glibc gives memory back after each free and asks again (brk): 84,000 brk calls made a 10,000-file commit take
      // 32 s instead of 0.4 s. A padded, rarely trimmed heap is what fast-import's allocation pattern needs.
      env: { ...process.env, GIT_CONFIG_NOSYSTEM: '1', MALLOC_TOP_PAD_: String(64 << 20), MALLOC_TRIM_THRESHOLD_: String(128 << 20) },
      stdio: ['pipe', 'ignore', 'pipe'],
    });
    this.child.stderr.setEncoding('utf8').on('data', (s: string) => (this.stderr += s.slice(0, 4000)));
    // git may exit early (a bad stream); the write side must not become an unhandled EPIPE.
    this.child.stdin.on('error', () => {});
    this.exited = new Promise((resolve, reject) => {
      this.child.on('error', reject);
      this.child.on('close', resolve);
    });
  }

  private async write(chunk: Buffer | string): Promise<void> {
    if (!this.child.stdin.write(chunk)) await Promise.race([once(this.child.stdin, 'drain'), this.exited]);
  }

  /** Starts a commit on `ref` (after `from`, or the ref's previous commit in this stream). */
  async commit(ref: string, at: number, message: string, from?: string): Promise<void> {
    // As `git commit-tree -m` writes it: the line completed. A NUL (which no argv, hence no earlier
    // commit, could carry) becomes U+FFFD, so a message from user input never breaks the history.
    const text = message.replaceAll('\0', '\uFFFD');
    const msg = Buffer.from(text === '' || text.endsWith('\n') ? text : `${text}\n`, 'utf8');
    const ident = `${GIT_IDENTITY} ${at} +0000`;
    await this.write(`commit ${ref}\nauthor ${ident}\ncommitter ${ident}\ndata ${msg.length}\n`);
    await this.write(msg);
    await this.write(from ? `\nfrom ${from}\n` : '\n');
  }

  /** Empties the commit's tree (before a whole tree is written). */
  async deleteAll(): Promise<void> {
    await this.write('deleteall\n');
  }

  /** Makes an existing tree the commit's whole tree. */
  async rootTree(tree: string): Promise<void> {
    await this.write(`M 040000 ${tree} ""\n`);
  }

  /** Writes one file into the commit's tree. */
  async file(path: string, mode: GitFileMode, data: Uint8Array): Promise<void> {
    await this.write(Buffer.concat([Buffer.from(`M ${mode} inline `), quotePath(path), Buffer.from(`\ndata ${data.length}\n`)]));
    await this.write(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
    await this.write('\n');
  }

  /** Removes one file from the commit's tree. */
  async remove(path: string): Promise<void> {
    await this.write(Buffer.concat([Buffer.from('D '), quotePath(path), Buffer.from('\n')]));
  }

  /** Ends the stream and waits for git to write the pack and refs. */
  async finish(): Promise<void> {
    this.child.stdin.end('done\n');
    const code = await this.exited;
    if (code !== 0) throw new LarderError('INTERNAL', `git fast-import failed (${code}): ${this.stderr.trim()}`);
  }

  /** Stops git after a failure elsewhere; nothing it wrote is referenced. */
  abort(): void {
    this.child.kill('SIGKILL');
  }
}
