/**
 * Generated registries for the read-path benchmark: a Bazel index registry of a few thousand modules and a
 * Julia registry of any number of packages, written as plain trees (what `larder import` reads and nginx serves).
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/** A deterministic UUID (v4 layout) from a label: the same registry every run. */
export function benchUuid(label: string): string {
  const h = createHash('sha256').update(label).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

const write = (file: string, body: string) => {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, body);
};

/**
 * A Bzlmod index registry of `modules` modules with 1–3 versions each (metadata.json, and MODULE.bazel +
 * source.json per version, shaped like the BCR's); returns the registry-relative paths of every file.
 */
export function writeBazelRegistry(root: string, modules: number): string[] {
  const files: string[] = [];
  const put = (rel: string, body: string) => {
    write(path.join(root, rel), body);
    files.push(rel);
  };
  put('bazel_registry.json', '{\n    "mirrors": [],\n    "module_base_path": ""\n}\n');
  for (let i = 0; i < modules; i++) {
    const name = `bench_module_${i.toString(36)}`;
    const versions = Array.from({ length: 1 + (i % 3) }, (_, v) => `1.${v}.0`);
    const metadata = {
      homepage: `https://example.com/${name}`,
      maintainers: [{ name: 'Bench Maintainer', email: 'bench@example.com', github: 'bench', github_user_id: 1000 + i }],
      repository: [`github:example/${name}`],
      versions,
      yanked_versions: {},
    };
    put(`modules/${name}/metadata.json`, JSON.stringify(metadata, null, 4) + '\n');
    for (const v of versions) {
      const deps = i > 0 ? `bazel_dep(name = "bench_module_${(i - 1).toString(36)}", version = "1.0.0")\n` : '';
      put(
        `modules/${name}/${v}/MODULE.bazel`,
        `module(\n    name = "${name}",\n    version = "${v}",\n    compatibility_level = 1,\n)\n\nbazel_dep(name = "platforms", version = "0.0.10")\n${deps}`,
      );
      const integrity = createHash('sha256').update(`${name}@${v}`).digest('base64');
      put(
        `modules/${name}/${v}/source.json`,
        JSON.stringify(
          { integrity: `sha256-${integrity}`, strip_prefix: `${name}-${v}`, url: `https://example.com/${name}/archive/v${v}.tar.gz` },
          null,
          4,
        ) + '\n',
      );
    }
  }
  return files;
}

/**
 * A Julia registry of `packages` packages (Registry.toml and P/Pkg/{Package,Versions,Deps,Compat}.toml, 1–5 versions
 * each, deps on earlier packages), as the General registry lays it out; returns its name and UUID.
 */
export function writeJuliaRegistry(root: string, name: string, packages: number): { name: string; uuid: string } {
  const uuid = benchUuid(`registry ${name}`);
  const entries: string[] = [];
  const pkgs = Array.from({ length: packages }, (_, i) => ({ name: `Bench${i.toString(36).replace(/^./, (c) => c.toUpperCase())}`, i }));
  for (const { name: pkg, i } of pkgs) {
    const pkgUuid = benchUuid(`package ${name} ${pkg}`);
    const dir = `${pkg[0]}/${pkg}`;
    entries.push(`${pkgUuid} = { name = "${pkg}", path = "${dir}" }`);
    write(
      path.join(root, dir, 'Package.toml'),
      `name = "${pkg}"\nuuid = "${pkgUuid}"\nrepo = "https://github.com/example/${pkg}.jl.git"\n`,
    );
    const versions = Array.from({ length: 1 + (i % 5) }, (_, v) => `0.${v}.0`);
    write(
      path.join(root, dir, 'Versions.toml'),
      versions.map((v) => `["${v}"]\ngit-tree-sha1 = "${createHash('sha1').update(`${pkg}@${v}`).digest('hex')}"\n`).join('\n'),
    );
    const deps = [1, 2, 3].filter((d) => i - d >= 0).map((d) => pkgs[i - d]);
    if (deps.length) {
      write(
        path.join(root, dir, 'Deps.toml'),
        `[0]\n${deps.map((d) => `${d.name} = "${benchUuid(`package ${name} ${d.name}`)}"`).join('\n')}\n`,
      );
    }
    write(
      path.join(root, dir, 'Compat.toml'),
      `[0]\njulia = "1.6.0-1"\n${deps.map((d) => `${d.name} = "0.1-0"`).join('\n')}${deps.length ? '\n' : ''}`,
    );
  }
  write(
    path.join(root, 'Registry.toml'),
    `name = "${name}"\nuuid = "${uuid}"\nrepo = "https://github.com/example/${name}.git"\n\ndescription = """\nA generated registry for Larder's benchmarks.\n"""\n\n[packages]\n${entries.sort().join('\n')}\n`,
  );
  return { name, uuid };
}
