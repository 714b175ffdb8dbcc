/**
 * larder.toml: schema, loading, validation and overrides. A facade over ./config/, one concern per file:
 *   types.ts        the public shapes and DEFAULT_REPOS
 *   values.ts       value parsers and the zod schemas
 *   problems.ts     validation problems, their wording and typo suggestions
 *   key-lines.ts    TOML key path → line, for FILE:LINE messages
 *   sources.ts      the file, LARDER_* environment and command-line layers
 *   repos-check.ts  cross checks between [[repos]] entries
 *   load.ts         loadConfig: precedence, defaults and the resolved result
 *   outbound.ts     the [outbound] table: address allowances, CA file, timeouts
 *   bazel-policy.ts a hosted Bazel repository's bazel_policy (the BCR's rules by default)
 *   init-text.ts    the commented larder.toml that `larder init` writes
 *   unpacked-limits.ts  the per-format unpacked-size limit in effect
 */
export type {
  BazelPolicy,
  ConfigOverrides,
  DatabaseConfig,
  Format,
  Http2Config,
  LarderConfig,
  OutboundConfig,
  RepoConfig,
  TimeoutsConfig,
  TlsConfig,
  UnpackedLimits,
} from './config/types.js';
export { DEFAULT_REPOS } from './config/types.js';
export { initConfigText } from './config/init-text.js';
export { locateKeys } from './config/key-lines.js';
export { loadConfig } from './config/load.js';
export { unpackedLimit } from './config/unpacked-limits.js';
export { BCR_POLICY } from './config/bazel-policy.js';
