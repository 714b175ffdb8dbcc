/** Reading what project.bri and brioche.lock say, as brioche's static analysis does, without running TypeScript. */
import { describe, expect, it } from 'vitest';
import { externalImports, lockedDependencies, projectExport } from './project-meta.js';

describe('projectExport', () => {
  it('reads the literal as brioche-packages write it (unquoted keys, trailing commas, comments, template strings)', () => {
    const src = `import * as std from "std";

// The project's metadata
export const project = {
  name: "jq",
  version: '1.7.1', /* a version tag is published too */
  repository: \`https://github.com/jqlang/jq\`,
  "keywords": ["json", "cli",],
  extra: { versionDash: "1-7-1", n: 2.5e3, ok: true, none: null },
  dependencies: { std: "*", local: { path: "../local" } },
};

export default function jq() { return std.runBash\`make\`; }
`;
    expect(projectExport(src)).toEqual({
      name: 'jq',
      version: '1.7.1',
      repository: 'https://github.com/jqlang/jq',
      keywords: ['json', 'cli'],
      extra: { versionDash: '1-7-1', n: 2500, ok: true, none: null },
      dependencies: { std: '*', local: { path: '../local' } },
    });
  });

  it('leaves out what is an expression rather than a literal, and keeps the rest', () => {
    const src = `export const project = {
  name: "x" + suffix,
  version: \`\${major}.0\`,
  description: "kept",
  computed: [a, b].map((v) => ({ v })),
  [key]: 1,
  short,
  method() { return { name: "no" }; },
  ...spread,
  license: "MIT",
} as const;`;
    expect(projectExport(src)).toEqual({ description: 'kept', license: 'MIT' });
  });

  it('is null without a project export, or when it is not an object literal', () => {
    expect(projectExport('export default function () {}')).toBeNull();
    expect(projectExport('export const project = makeProject();')).toBeNull();
    expect(projectExport('export const projects = { name: "x" };')).toBeNull();
    expect(projectExport('export const project = {')).toEqual({});
  });

  it('stops on hostile input: deep nesting is cut, an unterminated string is no value', () => {
    let deep: unknown = projectExport(`export const project = ${'{a:'.repeat(50_000)}`);
    let levels = 0;
    for (; deep && typeof deep === 'object'; levels++) deep = (deep as { a?: unknown }).a;
    expect(levels).toBe(33);
    expect(projectExport(`export const project = { a: "${'\\'.repeat(10)}`)).toEqual({});
  });
});

describe('externalImports', () => {
  it('names the external projects imported or re-exported, never the project’s own modules', () => {
    const src = `import * as std from "std";
import { cargoBuild } from 'rust';
import {
  a,
  b,
} from "nodejs";
import "side_effect";
import type { T } from "types_only";
export { x } from "re_export";
import local from "./local.bri";
import root from "/root.bri";
import up from "../up.bri";
const s = "import nothing from 'not_a_statement'";
`;
    expect(externalImports(src).sort()).toEqual(['nodejs', 're_export', 'rust', 'side_effect', 'std', 'types_only']);
  });
});

describe('lockedDependencies', () => {
  it('reads brioche.lock dependencies and tolerates anything else', () => {
    const lock = JSON.stringify({ dependencies: { std: 'a'.repeat(64), 'bad/name': 'b' }, downloads: {} });
    expect(lockedDependencies(lock)).toEqual([{ name: 'std', projectHash: 'a'.repeat(64) }]);
    expect(lockedDependencies('not json')).toEqual([]);
    expect(lockedDependencies('{"dependencies": []}')).toEqual([]);
  });
});
