import type { Readable } from 'node:stream';
import type yauzl from 'yauzl';
import { EntryGate, asArchiveError, printable, type GateOptions, type GateVisitor } from './gate.js';
import { importCjs } from '../cjs.js';

/** Longest symlink target read from a zip entry's body. */
const MAX_LINK_TARGET = 4096;

/**
 * Reads a zip through the gate: the central directory's entry count, each entry's declared size and
 * ratio, its path and type are checked before it is inflated (yauzl checks the real size against the
 * declared one). Zip needs random access, so the archive is a Buffer; entries stream one at a time.
 */
export async function gateZip(archive: Buffer, options: GateOptions, visit: GateVisitor): Promise<void> {
  const gate = new EntryGate(options);
  const m = options.messages;
  // yauzl loads with the first zip, not at every start (issue 14).
  const yauzlModule = await importCjs(import('yauzl'));
  const zip = await new Promise<yauzl.ZipFile>((resolve, reject) => {
    yauzlModule.fromBuffer(archive, { lazyEntries: true, validateEntrySizes: true }, (err, z) =>
      err ? reject(asArchiveError(err, m, 'zip')) : resolve(z),
    );
  });
  try {
    gate.announce(zip.entryCount);
    await new Promise<void>((resolve, reject) => {
      zip.on('error', (err: Error) => reject(asArchiveError(err, m, 'zip')));
      zip.on('end', () => resolve());
      zip.on('entry', (entry: yauzl.Entry) => {
        gateEntry(zip, entry, gate, visit).then(
          () => zip.readEntry(),
          (err: unknown) => reject(asArchiveError(err, m, 'zip')),
        );
      });
      zip.readEntry();
    });
  } finally {
    zip.close();
  }
}

async function gateEntry(zip: yauzl.ZipFile, entry: yauzl.Entry, gate: EntryGate, visit: GateVisitor): Promise<void> {
  gate.count();
  const unix = entry.versionMadeBy >> 8 === 3;
  const mode = unix ? entry.externalFileAttributes >>> 16 : 0;
  const isDir = entry.fileName.endsWith('/');
  const type = zipType(mode & 0o170000, isDir);
  let linkname: string | undefined;
  if (type === 'symlink' && (gate.options.symlinks ?? 'reject') !== 'reject') {
    // The target is the entry's body: read it (bounded) so the gate can check where it points.
    if (entry.uncompressedSize > MAX_LINK_TARGET)
      gate.refuse('ARCHIVE_INVALID', gate.options.messages.badPath(printable(entry.fileName), 'is a symlink with an over-long target'));
    linkname = (await readAll(await openEntry(zip, entry))).toString('utf8');
  }
  const size = type === 'file' ? entry.uncompressedSize : 0;
  const admitted = gate.admit({ name: entry.fileName, type, size, mode: mode & 0o7777, linkname });
  if (!admitted) return;
  gate.claim(admitted.size);
  if (admitted.type !== 'file') return visit({ ...admitted, body: (async function* () {})() });
  gate.checkRatio(entry.uncompressedSize, entry.compressedSize);
  const body = await openEntry(zip, entry);
  try {
    await visit({ ...admitted, body });
    for await (const _ of body); // drain what the visitor left
  } catch (err) {
    body.destroy();
    throw err;
  }
}

/** The tar type name for a zip entry's Unix file type (0: no Unix mode, trust the trailing "/"). */
function zipType(fileType: number, isDir: boolean): string {
  if (fileType === 0o120000) return 'symlink';
  if (fileType === 0) return isDir ? 'directory' : 'file';
  if (fileType === (isDir ? 0o040000 : 0o100000)) return isDir ? 'directory' : 'file';
  return (
    { 0o020000: 'character-device', 0o060000: 'block-device', 0o010000: 'fifo', 0o140000: 'socket' }[fileType] ?? 'entry of unknown type'
  );
}

function openEntry(zip: yauzl.ZipFile, entry: yauzl.Entry): Promise<Readable> {
  return new Promise<Readable>((resolve, reject) => zip.openReadStream(entry, (err, s) => (err ? reject(err) : resolve(s))));
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
