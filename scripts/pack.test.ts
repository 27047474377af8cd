/**
 * Publish-readiness test: packs every non-private package under packages/*
 * with `bun pm pack` (what `bun publish` uploads) and checks the tarball's
 * package.json and file list. It guards against the classic monorepo leak of
 * `workspace:*` ranges into the registry (npm pack/publish ship them verbatim),
 * and against entry points or README.md missing from the published files.
 *
 * The checks live in a pure function (`checkPackedPackage`) with its own
 * table test, so a broken check cannot silently pass the real packs.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

/** The subset of package.json that these checks read. */
export interface Manifest {
  name?: string;
  version?: string;
  private?: boolean;
  exports?: unknown;
  main?: string;
  types?: string;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}

const DEPENDENCY_FIELDS = ["dependencies", "peerDependencies", "optionalDependencies", "devDependencies"] as const;
// Monorepo-only range protocols: meaningless to a registry consumer, so installs of the package would fail.
const LOCAL_PROTOCOLS = ["workspace:", "catalog:"];

/** Every string target in an `exports` value (plain, conditional, nested or array form). */
export function exportTargets(exports: unknown): string[] {
  if (typeof exports === "string") return [exports];
  if (Array.isArray(exports)) return exports.flatMap(exportTargets);
  if (exports !== null && typeof exports === "object") return Object.values(exports).flatMap(exportTargets);
  return [];
}

function normalize(path: string): string {
  return path.replace(/^\.\//, "");
}

/** True when `target` (possibly a `*` subpath pattern) names at least one file in `files`. */
function targetExists(target: string, files: ReadonlySet<string>): boolean {
  const wanted = normalize(target);
  if (!wanted.includes("*")) return files.has(wanted);
  const escaped = wanted.split("*").map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&"));
  const pattern = new RegExp(`^${escaped.join(".+")}$`);
  for (const file of files) if (pattern.test(file)) return true;
  return false;
}

/**
 * Problems with one packed package. `files` are tarball paths relative to the
 * package root (the tarball's leading `package/` stripped). Pure: no I/O.
 */
export function checkPackedPackage(source: Manifest, packed: Manifest, files: readonly string[]): string[] {
  const problems: string[] = [];
  const fileSet = new Set(files);
  for (const field of DEPENDENCY_FIELDS) {
    for (const [dep, range] of Object.entries(packed[field] ?? {})) {
      if (LOCAL_PROTOCOLS.some((p) => range.startsWith(p))) {
        problems.push(`${field}.${dep} is "${range}" in the tarball (a monorepo-only range)`);
      }
    }
  }
  if (packed.name !== source.name) problems.push(`name is ${String(packed.name)} in the tarball, ${String(source.name)} in the source`);
  if (packed.version !== source.version) {
    problems.push(`version is ${String(packed.version)} in the tarball, ${String(source.version)} in the source`);
  }
  // A Set: conditional exports often point several conditions at one file; report it once.
  const entryPoints = new Set([...exportTargets(packed.exports), ...[packed.main, packed.types].filter((t) => t !== undefined)]);
  for (const target of entryPoints) {
    if (!targetExists(target, fileSet)) problems.push(`entry point ${target} is not in the tarball`);
  }
  if (!fileSet.has("README.md")) problems.push("README.md is not in the tarball");
  // Tests sit beside the code (ARCHITECTURE.md §2); consumers should not download them.
  for (const file of files) if (/\.test\.[cm]?[jt]sx?$/.test(file)) problems.push(`test file ${file} is in the tarball`);
  return problems;
}

describe("checkPackedPackage (the checker itself)", () => {
  const source: Manifest = {
    name: "@fastnet/example",
    version: "1.2.3",
    exports: { ".": "./src/index.ts", "./sim": { bun: "./src/sim/index.ts", default: "./src/sim/index.ts" } },
    peerDependencies: { "@fastnet/core": "workspace:^" },
    devDependencies: { "@fastnet/core": "workspace:*" },
  };
  // What bun pm pack produces: workspace ranges replaced by the real version.
  const goodPacked: Manifest = {
    ...source,
    peerDependencies: { "@fastnet/core": "^0.1.0" },
    devDependencies: { "@fastnet/core": "0.1.0" },
  };
  const goodFiles = ["package.json", "README.md", "src/index.ts", "src/sim/index.ts"];

  test("a correctly packed package has no problems", () => {
    expect(checkPackedPackage(source, goodPacked, goodFiles)).toEqual([]);
  });

  const bad: ReadonlyArray<[what: string, packed: Manifest, files: string[], expected: string]> = [
    ["workspace:* in devDependencies", { ...goodPacked, devDependencies: { "@fastnet/core": "workspace:*" } }, goodFiles, "devDependencies.@fastnet/core"],
    ["workspace:^ in peerDependencies", { ...goodPacked, peerDependencies: { "@fastnet/core": "workspace:^" } }, goodFiles, "peerDependencies.@fastnet/core"],
    ["workspace:* in dependencies", { ...goodPacked, dependencies: { "@fastnet/crypto": "workspace:*" } }, goodFiles, "dependencies.@fastnet/crypto"],
    ["workspace:~ in optionalDependencies", { ...goodPacked, optionalDependencies: { x: "workspace:~" } }, goodFiles, "optionalDependencies.x"],
    ["catalog: in dependencies", { ...goodPacked, dependencies: { "fast-check": "catalog:" } }, goodFiles, "dependencies.fast-check"],
    ["a renamed package", { ...goodPacked, name: "@fastnet/other" }, goodFiles, "name is @fastnet/other"],
    ["a different version", { ...goodPacked, version: "1.2.4" }, goodFiles, "version is 1.2.4"],
    ["a missing export target", goodPacked, ["package.json", "README.md", "src/index.ts"], "entry point ./src/sim/index.ts"],
    ["a missing main", { ...goodPacked, main: "./dist/index.js" }, goodFiles, "entry point ./dist/index.js"],
    ["an unmatched export pattern", { ...goodPacked, exports: { "./plugins/*": "./src/plugins/*.ts" } }, goodFiles, "entry point ./src/plugins/*.ts"],
    ["a missing README.md", goodPacked, ["package.json", "src/index.ts", "src/sim/index.ts"], "README.md"],
    ["a shipped test file", goodPacked, [...goodFiles, "src/index.test.ts"], "test file src/index.test.ts"],
  ];
  test.each(bad)("flags %s", (_what, packed, files, expected) => {
    const problems = checkPackedPackage(source, packed, files);
    expect(problems.length).toBe(1);
    expect(problems[0]).toContain(expected);
  });

  test("exportTargets walks string, conditional, nested and array forms", () => {
    expect(exportTargets("./a.ts")).toEqual(["./a.ts"]);
    expect(exportTargets({ ".": { types: "./a.d.ts", default: ["./a.js", "./b.js"] }, "./x": null })).toEqual([
      "./a.d.ts",
      "./a.js",
      "./b.js",
    ]);
  });

  test("a matched export pattern passes", () => {
    const packed = { ...goodPacked, exports: { "./plugins/*": "./src/plugins/*.ts" } };
    expect(checkPackedPackage(source, packed, [...goodFiles, "src/plugins/fec.ts"])).toEqual([]);
  });
});

const REPO_ROOT = resolve(import.meta.dir, "..");
const PACKAGES_DIR = join(REPO_ROOT, "packages");

function publishablePackages(): Array<{ dir: string; manifest: Manifest }> {
  return readdirSync(PACKAGES_DIR, { withFileTypes: true })
    .filter((e) => e.isDirectory() && existsSync(join(PACKAGES_DIR, e.name, "package.json")))
    .map((e) => {
      const dir = join(PACKAGES_DIR, e.name);
      return { dir, manifest: JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as Manifest };
    })
    .filter((p) => p.manifest.private !== true);
}

function run(cmd: string[], cwd: string): string {
  const result = Bun.spawnSync(cmd, { cwd, stdout: "pipe", stderr: "pipe" });
  if (result.exitCode !== 0) {
    throw new Error(`${cmd.join(" ")} failed (exit ${result.exitCode}) in ${cwd}:\n${result.stderr.toString()}`);
  }
  return result.stdout.toString();
}

const packages = publishablePackages();
const workDir = mkdtempSync(join(tmpdir(), "fastnet-pack-"));
afterAll(() => rmSync(workDir, { recursive: true, force: true }));

describe("published tarballs", () => {
  test("there is at least one publishable package", () => {
    expect(packages.length).toBeGreaterThan(0);
  });

  for (const { dir, manifest } of packages) {
    test(`${String(manifest.name)}: bun pm pack output is installable from a registry`, () => {
      const dest = mkdtempSync(join(workDir, "pkg-"));
      // process.execPath is the bun running this test, so the pack matches the pinned Bun even when bun is not on PATH.
      run([process.execPath, "pm", "pack", "--destination", dest, "--quiet"], dir);
      const tarballs = readdirSync(dest).filter((f) => f.endsWith(".tgz"));
      expect(tarballs.length).toBe(1);
      const tarball = join(dest, tarballs[0]!);
      const files = run(["tar", "-tzf", tarball], dest)
        .split("\n")
        .filter((line) => line !== "" && !line.endsWith("/"))
        .map((line) => line.replace(/^package\//, ""));
      run(["tar", "-xzf", tarball, "-C", dest], dest);
      const packed = JSON.parse(readFileSync(join(dest, "package", "package.json"), "utf8")) as Manifest;
      expect(checkPackedPackage(manifest, packed, files)).toEqual([]);
    });
  }
});
