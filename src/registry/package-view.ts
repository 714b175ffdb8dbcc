/**
 * What the web UI shows of one package, in words every format can fill (issue 12). A format builds it from
 * its source's documents (so hosted, proxy and group repos all have pages) plus whatever its hosted rows add
 * (publish dates, descriptions); owners, downloads and READMEs are read below the formats.
 */
import type { Registry } from './registry.js';
import type { Repo } from './repos.js';
import type { Source } from './source.js';

/** One version in the version list, newest first. */
export interface VersionView {
  version: string;
  /** Milliseconds since the epoch, when known (hosted publishes; some upstream indexes say). */
  publishedAt: number | null;
  yanked: boolean;
  /** Why it was yanked, where the format records one (MoonBit, Julia). */
  yankReason: string | null;
}

/** A dependency of the version shown. */
export interface DependencyView {
  /** The name as the dependent writes it. */
  name: string;
  /** The version requirement, in the format's own syntax (`^1.2`, `1.2.3`, `[0.5, 1)`). */
  requirement: string | null;
  /** `dev`, `build`, `optional`, … (null: a normal dependency). */
  kind: string | null;
  /** The canonical id when the same repo holds the dependency, so the page can link it. */
  package: string | null;
}

/** A line of facts under the title: `UUID`, `compatibility_level`, `tree hash`. */
export interface PackageFact {
  label: string;
  value: string;
}

/** A link the package declares (repository, homepage, documentation); the page shows only http(s) URLs. */
export interface PackageLink {
  label: string;
  url: string;
}

export interface PackageView {
  /** The canonical id (search_entries.package, package_owners.package). */
  package: string;
  /** The display name. */
  name: string;
  /** The version this view describes (dependencies, license, README). */
  version: string;
  /** The newest version a client would pick (not yanked), or null when every version is yanked. */
  latest: string | null;
  description: string | null;
  license: string | null;
  keywords: string[];
  links: PackageLink[];
  versions: VersionView[];
  dependencies: DependencyView[];
  facts: PackageFact[];
}

/** A snippet the page offers with a copy button. */
export interface UsageSnippet {
  /** What it is and where it goes: "Cargo.toml", ".bazelrc", "Julia REPL". */
  label: string;
  /** The code, exactly as pasted. */
  code: string;
  /** A sentence under it, when one is needed. */
  note?: string;
}

/** A format's part of the web UI. */
export interface WebParts {
  /**
   * The package at `version` (the latest when absent) as a page shows it, or null when the repo has no such
   * package (or no such version). `pkg` is the canonical id.
   */
  packageView(ctx: { registry: Registry; repo: Repo; source: Source }, pkg: string, version?: string): Promise<PackageView | null>;
  /** The exact snippets to use `view` from `repo` served at `baseUrl` (dependency line, registry setup). */
  usage(repo: Repo, baseUrl: string, view: PackageView): UsageSnippet[];
}
