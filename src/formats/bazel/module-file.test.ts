import { describe, it, expect } from 'vitest';
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { LarderError } from '../../core/errors.js';
import { readModuleFile, sameModuleFile } from './module-file.js';

const MODULES = '/work/shared/fixtures/bcr-sample/modules';

function fixtures(): Array<[string, string, string]> {
  if (!existsSync(MODULES)) return [];
  return readdirSync(MODULES).flatMap((m) =>
    readdirSync(join(MODULES, m), { withFileTypes: true })
      .filter((d) => d.isDirectory() && existsSync(join(MODULES, m, d.name, 'MODULE.bazel')))
      .map((d): [string, string, string] => [m, d.name, join(MODULES, m, d.name, 'MODULE.bazel')]),
  );
}

function invalid(text: string): LarderError {
  try {
    readModuleFile(text);
  } catch (err) {
    expect(err).toBeInstanceOf(LarderError);
    expect((err as LarderError).code).toBe('METADATA_INVALID');
    return err as LarderError;
  }
  throw new Error('expected readModuleFile to throw');
}

describe('readModuleFile on the BCR sample', () => {
  const all = fixtures();
  it.skipIf(all.length === 0)('reads every fixture with the name and version of its directory', () => {
    const wrong: string[] = [];
    for (const [module, version, path] of all) {
      // BCR files are not all UTF-8 (§9.3); latin1 keeps every byte for the reader.
      const decl = readModuleFile(readFileSync(path, 'latin1'));
      if (decl.name !== module || decl.version !== version) wrong.push(`${module}/${version}: ${decl.name}@${decl.version}`);
      for (const dep of decl.deps) expect(dep.name).toMatch(/^[a-z]([a-z0-9._-]*[a-z0-9])?$/);
    }
    expect(wrong).toEqual([]);
    expect(all.length).toBeGreaterThan(100);
  });
});

describe('readModuleFile', () => {
  it('reads the module() attributes and bazel_dep() calls', () => {
    const decl = readModuleFile(`"""Docstring with module(name = "nope") inside."""
# module(name = "commented")
module(
    name = 'my_mod',  # a comment ) with a paren
    version = "1.2.3",
    compatibility_level = 2,
    bazel_compatibility = [">=7.2.1", '<9.0.0',],
    repo_name = "whatever",
)

bazel_dep(name = "rules_cc", version = "0.1.1")
bazel_dep(
    name = "googletest",
    version = "1.15.2",
    dev_dependency = True,
    repo_name = "com_google_googletest",
)
bazel_dep(name = "platforms", dev_dependency = False)
ext = use_extension("//:ext.bzl", "ext")
ext.module(name = "not_a_module_call")
use_repo(ext, "a", b = "c")
register_toolchains("//:all", dev_dependency = True)
`);
    expect(decl).toEqual({
      name: 'my_mod',
      version: '1.2.3',
      compatibilityLevel: 2,
      bazelCompatibility: ['>=7.2.1', '<9.0.0'],
      deps: [
        { name: 'rules_cc', version: '0.1.1', devDependency: false },
        { name: 'googletest', version: '1.15.2', devDependency: true },
        { name: 'platforms', version: '', devDependency: false },
      ],
    });
  });

  it('has defaults when module() is absent or sparse', () => {
    expect(readModuleFile('')).toEqual({ name: null, version: null, compatibilityLevel: 0, bazelCompatibility: [], deps: [] });
    expect(readModuleFile('module(name = "x")\n')).toMatchObject({ name: 'x', version: null, compatibilityLevel: 0 });
  });

  it('handles CRLF, line continuations, escapes, raw and triple-quoted strings', () => {
    const decl = readModuleFile('X = """a\r\n"b"\r\n"""\r\nmodule(name = "m", \\\r\n  version = r"1.0" + \'\\x2d\\u0072c1\')\r\n');
    expect(decl.name).toBe('m');
    expect(decl.version).toBe('1.0-rc1');
  });

  it('resolves names bound to literals at top level', () => {
    const decl = readModuleFile('VERSION = "2.0.0"\nLEVEL = 3\nmodule(name = "m", version = VERSION, compatibility_level = LEVEL)\n');
    expect(decl).toMatchObject({ version: '2.0.0', compatibilityLevel: 3 });
  });

  it('rejects unbalanced brackets and unterminated strings', () => {
    expect(invalid('module(name = "m"\n').message).toMatch(/line 1: "\(" is never closed/);
    expect(invalid('module(name = "m"))\n').message).toMatch(/no matching opening/);
    expect(invalid('module(name = ["m")\n').message).toMatch(/does not match "\["/);
    expect(invalid('module(name = "m)\n').message).toMatch(/line 1: unterminated string/);
    expect(invalid('x = """never\nclosed\n').message).toMatch(/unterminated string/);
    expect(invalid('module(name = "a\\qb")').message).toMatch(/escape/);
  });

  it('rejects a second module() call', () => {
    expect(invalid('module(name = "a")\n\nmodule(name = "b")\n').message).toMatch(/module\(\) twice \(lines 1 and 3\)/);
  });

  it('rejects attributes it cannot check and positional arguments', () => {
    expect(invalid('module(name = "a", version = get_version())').message).toMatch(
      /version attribute on line 1 .* must be a string literal/,
    );
    expect(invalid('module(name = "a", compatibility_level = "1")').message).toMatch(/compatibility_level .* int/);
    expect(invalid('module(name = "a", bazel_compatibility = [">=7", 8])').message).toMatch(/list of strings/);
    expect(invalid('bazel_dep("rules_cc", "1.0")').message).toMatch(/positional/);
    expect(invalid('bazel_dep(version = "1.0")').message).toMatch(/no name/);
    expect(invalid('module(name = "a", name = "b")').message).toMatch(/twice/);
  });
});

describe('sameModuleFile', () => {
  it('ignores line endings and trailing whitespace per line only', () => {
    expect(sameModuleFile('module(name = "a")\n', 'module(name = "a")  \r\n')).toBe(true);
    expect(sameModuleFile('a\nb\n', 'a\r\nb')).toBe(true);
    expect(sameModuleFile('a\rb\n', 'a\nb\n')).toBe(true);
    expect(sameModuleFile('a\nb\n', 'a\n b\n')).toBe(false);
    expect(sameModuleFile('a\n', 'a\n\n')).toBe(false);
    expect(sameModuleFile('a\n', 'b\n')).toBe(false);
  });
});
