/** The archive gate: one set of rules (paths, links, limits, bombs) for tar, tar.gz and zip. */
export {
  gateMessages,
  printable,
  type GateOptions,
  type GateMessages,
  type GateLimits,
  type GatedEntry,
  type GateVisitor,
  type LinkPolicy,
} from './gate.js';
export { gateTar } from './tar.js';
export { gateZip } from './zip.js';
