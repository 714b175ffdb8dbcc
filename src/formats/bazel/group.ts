/**
 * Bazel's parts of a group repository: bazel_registry.json is the one document several members
 * contribute to; everything else is the first member that has the module (hosted first).
 */
import type { GroupParts } from '../../registry/source-parts.js';
import { mirrorsOf, readRegistryJson, registryJsonOf } from './mirror.js';
import { REGISTRY_JSON } from './registry-json.js';

/** Bazel's group parts. */
export const bazelGroupParts: GroupParts = {
  mergeDoc(path, members) {
    if (path !== REGISTRY_JSON) return undefined;
    const mirrors: string[] = [];
    const bases = new Set<string>();
    for (const { doc } of members) {
      const json = readRegistryJson(doc.body);
      if (!json) continue;
      for (const m of mirrorsOf(json)) if (!mirrors.includes(m)) mirrors.push(m);
      if (typeof json.module_base_path === 'string') bases.add(json.module_base_path);
    }
    // module_base_path resolves members' local_path sources; it is kept only when every member that
    // sets one agrees on an absolute path, since a relative one means the member's own file:// tree.
    const [base] = bases;
    const sane = bases.size === 1 && base !== undefined && base.startsWith('/');
    return registryJsonOf(sane ? { module_base_path: base } : {}, mirrors);
  },
};
