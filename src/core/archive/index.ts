/** The archive gate: one set of rules (paths, links, limits, bombs) for tar (plain, gzip, xz, zstd, bzip2), zip and ar. */
export {
  gateMessages,
  printable,
  type ArchiveStage,
  type GateOptions,
  type GateMessages,
  type GateLimits,
  type GatedEntry,
  type GateVisitor,
  type LinkPolicy,
} from './gate.js';
export { gateTar } from './tar.js';
export { gateZip } from './zip.js';
export { gateAr } from './ar.js';
export { DecompressError, type Compression } from './decompress.js';
