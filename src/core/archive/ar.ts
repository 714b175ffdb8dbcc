/**
 * Unix ar archives (`.ar`, and `.deb`, which is an ar of debian-binary, control.tar.* and data.tar.*)
 * read through the gate. Every member is a regular file: ar has no directories and no links. Names
 * follow GNU ar (`name/`, a `//` long-name table referenced as `/N`) and BSD ar (`#1/N`, the name
 * stored before the data); a GNU symbol table (`/`, `/SYM64/`) names no file and is refused, as
 * Bazel's extraction fails on it too. Headers are checked before any member is handed out.
 */
import { EntryGate, asArchiveError, printable, type GateOptions, type GateVisitor } from './gate.js';

const MAGIC = '!<arch>\n';
const THIN = '!<thin>\n';
const HEADER = 60;
const FMAG = '`\n';

/** Reads an ar archive held in memory through the gate; members stream to `visit` one at a time. */
export async function gateAr(archive: Buffer, options: GateOptions, visit: GateVisitor): Promise<void> {
  const gate = new EntryGate(options);
  const m = options.messages;
  // Annotated so that TypeScript knows a call never returns (narrowing after it).
  const bad: (detail: string) => never = (detail) => {
    throw asArchiveError(new Error(detail), m, 'ar');
  };
  const magic = archive.subarray(0, 8).toString('latin1');
  if (magic === THIN) bad('a thin archive names files outside itself');
  if (magic !== MAGIC) bad('it does not start with "!<arch>"');
  let longNames: Buffer | null = null;
  let at = 8;
  while (at < archive.length) {
    if (at === archive.length - 1 && archive[at] === 0x0a) break; // padding after an odd-sized last member
    if (archive.length - at < HEADER) bad(`a member header at offset ${at} is cut short`);
    const field = (from: number, length: number) => archive.subarray(at + from, at + from + length).toString('latin1');
    if (field(58, 2) !== FMAG) bad(`the member header at offset ${at} does not end in "\`\\n"`);
    const rawName = field(0, 16).replace(/ +$/, '');
    const sizeText = field(48, 10).replace(/ +$/, '');
    if (!/^\d{1,10}$/.test(sizeText)) bad(`the member header at offset ${at} has a size that is not a decimal number`);
    const modeText = field(40, 8).replace(/ +$/, '');
    if (!/^[0-7]{0,8}$/.test(modeText)) bad(`the member header at offset ${at} has a mode that is not an octal number`);
    const size = Number(sizeText);
    const start = at + HEADER;
    if (size > archive.length - start) bad(`the member at offset ${at} claims ${size} bytes, more than the archive holds`);
    let data = archive.subarray(start, start + size);
    at = start + size + (size % 2);
    let name: string;
    if (rawName === '//') {
      if (longNames) bad('it has two GNU long-name tables');
      longNames = data;
      continue;
    } else if (rawName === '/' || rawName === '/SYM64/') {
      bad('it holds a symbol table (an archive of object files, not of source files)');
    } else if (/^\/\d+$/.test(rawName)) {
      const offset = Number(rawName.slice(1));
      if (!longNames || offset >= longNames.length) bad(`the member name ${printable(rawName)} points outside the long-name table`);
      const end = longNames.indexOf('/\n', offset, 'latin1');
      if (end < 0) bad(`the member name ${printable(rawName)} is not terminated in the long-name table`);
      name = longNames.subarray(offset, end).toString('utf8');
    } else if (/^#1\/\d+$/.test(rawName)) {
      const length = Number(rawName.slice(3));
      if (length > size) bad(`the member name ${printable(rawName)} is longer than its member`);
      name = data.subarray(0, length).toString('utf8').replace(/\0+$/, '');
      data = data.subarray(length);
    } else {
      name = rawName.endsWith('/') ? rawName.slice(0, -1) : rawName;
    }
    gate.count();
    const admitted = gate.admit({ name, type: 'file', size: data.length, mode: modeText ? parseInt(modeText, 8) & 0o7777 : 0 });
    if (!admitted) continue;
    gate.claim(admitted.size);
    const body = data;
    await visit({
      ...admitted,
      body: (async function* () {
        if (body.length) yield body;
      })(),
    });
  }
}
