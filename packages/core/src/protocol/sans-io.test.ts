/**
 * Enforces that the protocol engine is sans-IO (ARCHITECTURE.md §3): no module
 * under packages/core/src/protocol/, nor any file it reaches through relative
 * imports, may import Bun, node:* or third-party modules, or read a clock, a
 * random source, a timer or the process through globals. Time and randomness
 * must arrive as arguments (`now`, an injected RandomSource).
 *
 * The check is a pure function over source text (`checkSansIo`) with its own
 * table test, so a broken check cannot silently pass the real scan.
 */
import { describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";

export interface Violation {
  /** 1-based line in the checked source. */
  line: number;
  /** Stable name of the rule that matched (used by the table test). */
  rule: string;
  /** The offending text, for the failure message. */
  text: string;
}

/**
 * Blanks comments (in both outputs) and string/template contents (in `bare`)
 * with spaces, keeping newlines and length, so offsets and line numbers still
 * match the original. Comments must go because prose such as "inject
 * crypto.getRandomValues" is not a use; strings must go from `bare` so that
 * "Date.now" in a message is not a use either, while `code` keeps them so
 * import specifiers can be read. Regex literal bodies are blanked in both.
 */
export function stripCommentsAndStrings(src: string): { code: string; bare: string } {
  const code: string[] = [];
  const bare: string[] = [];
  const blank = (ch: string): string => (ch === "\n" ? "\n" : " ");
  // Brace depths at which an enclosing template literal's `${` was opened.
  const templateStack: number[] = [];
  let depth = 0;
  // Last significant code character: decides whether `/` starts a regex or divides.
  let prev = "";
  let prevWord = "";
  let i = 0;

  const emit = (ch: string, inString: boolean): void => {
    code.push(ch);
    bare.push(inString ? blank(ch) : ch);
  };
  const emitComment = (ch: string): void => {
    code.push(blank(ch));
    bare.push(blank(ch));
  };

  // Reads a template literal body from i (after the backtick or a closing `}`).
  const readTemplate = (): void => {
    while (i < src.length) {
      const ch = src[i]!;
      if (ch === "\\") {
        emit(ch, true);
        if (i + 1 < src.length) emit(src[i + 1]!, true);
        i += 2;
      } else if (ch === "`") {
        emit(ch, false);
        i++;
        prev = "`";
        return;
      } else if (ch === "$" && src[i + 1] === "{") {
        emit("$", false);
        emit("{", false);
        i += 2;
        templateStack.push(depth);
        depth++;
        prev = "{";
        return;
      } else {
        emit(ch, true);
        i++;
      }
    }
  };

  while (i < src.length) {
    const ch = src[i]!;
    const next = src[i + 1];
    if (ch === "/" && next === "/") {
      while (i < src.length && src[i] !== "\n") emitComment(src[i++]!);
    } else if (ch === "/" && next === "*") {
      const end = src.indexOf("*/", i + 2);
      const stop = end === -1 ? src.length : end + 2;
      while (i < stop) emitComment(src[i++]!);
    } else if (ch === '"' || ch === "'") {
      emit(ch, false);
      i++;
      while (i < src.length && src[i] !== ch && src[i] !== "\n") {
        if (src[i] === "\\" && i + 1 < src.length) emit(src[i++]!, true);
        emit(src[i++]!, true);
      }
      if (i < src.length) emit(src[i++]!, false);
      prev = ch;
    } else if (ch === "`") {
      emit(ch, false);
      i++;
      readTemplate();
    } else if (ch === "/" && isRegexStart(prev, prevWord)) {
      emit(ch, false);
      i++;
      let inClass = false;
      while (i < src.length && src[i] !== "\n") {
        const c = src[i]!;
        if (c === "\\" && i + 1 < src.length) {
          emitComment(src[i++]!);
          emitComment(src[i++]!);
          continue;
        }
        if (c === "[") inClass = true;
        else if (c === "]") inClass = false;
        else if (c === "/" && !inClass) break;
        emitComment(src[i++]!);
      }
      if (i < src.length && src[i] === "/") emit(src[i++]!, false);
      prev = "/regex";
    } else {
      if (ch === "{") depth++;
      if (ch === "}") {
        depth--;
        if (templateStack.length > 0 && templateStack[templateStack.length - 1] === depth) {
          templateStack.pop();
          emit(ch, false);
          i++;
          readTemplate();
          continue;
        }
      }
      emit(ch, false);
      i++;
      if (/[\w$]/.test(ch)) {
        prevWord = /[\w$]/.test(prev) ? prevWord + ch : ch;
        prev = ch;
      } else if (!/\s/.test(ch)) {
        prev = ch;
        prevWord = "";
      }
    }
  }
  return { code: code.join(""), bare: bare.join("") };
}

function isRegexStart(prev: string, prevWord: string): boolean {
  if (prev === "") return true;
  if (/[\w$]/.test(prev)) return ["return", "typeof", "case", "do", "else", "in", "of", "void", "yield", "await"].includes(prevWord);
  return "(,=:[!&|?{};+-*%<>~^".includes(prev);
}

/** Global uses that make code depend on a clock, randomness, timers, the process or the runtime. */
const FORBIDDEN_GLOBALS: ReadonlyArray<{ rule: string; pattern: RegExp }> = [
  // The lookbehind skips property accesses such as `stats.process.x`: only the global counts.
  { rule: "Date.now", pattern: /(?<![\w$.])Date\s*\.\s*now\b/g },
  { rule: "new Date", pattern: /(?<![\w$.])new\s+Date\b/g },
  { rule: "Date()", pattern: /(?<![\w$.]|new\s+)Date\s*\(/g },
  { rule: "performance.now", pattern: /(?<![\w$.])performance\s*\.\s*now\b/g },
  { rule: "Math.random", pattern: /(?<![\w$.])Math\s*\.\s*random\b/g },
  { rule: "setTimeout", pattern: /(?<![\w$.])(?:set|clear)Timeout\b/g },
  { rule: "setInterval", pattern: /(?<![\w$.])(?:set|clear)Interval\b/g },
  { rule: "setImmediate", pattern: /(?<![\w$.])(?:set|clear)Immediate\b/g },
  { rule: "queueMicrotask", pattern: /(?<![\w$.])queueMicrotask\b/g },
  { rule: "process.", pattern: /(?<![\w$.])process\s*\./g },
  { rule: "Bun.", pattern: /(?<![\w$.])Bun\s*\./g },
  { rule: "crypto.", pattern: /(?<![\w$.])crypto\s*\./g },
  { rule: "globalThis", pattern: /(?<![\w$.])globalThis\b/g },
  { rule: "require()", pattern: /(?<![\w$.])require\s*\(/g },
  { rule: "dynamic import()", pattern: /(?<![\w$.])import\s*\(/g },
];

/** Static import/export specifiers (type-only ones too: they still tie the engine to a runtime's API). */
const IMPORT_PATTERNS: readonly RegExp[] = [
  /(?<![\w$.])(?:import|export)\s[^;"'`]*?\bfrom\s*(["'])([^"'\n]*)\1/g,
  /(?<![\w$.])import\s*(["'])([^"'\n]*)\1/g,
];

export function importSpecifiers(source: string): Array<{ specifier: string; index: number }> {
  const { code } = stripCommentsAndStrings(source);
  const found: Array<{ specifier: string; index: number }> = [];
  for (const pattern of IMPORT_PATTERNS) {
    for (const m of code.matchAll(pattern)) found.push({ specifier: m[2] ?? "", index: m.index });
  }
  return found.sort((a, b) => a.index - b.index);
}

export function isRelativeSpecifier(specifier: string): boolean {
  return specifier.startsWith("./") || specifier.startsWith("../");
}

function lineAt(source: string, index: number): number {
  let line = 1;
  for (let k = 0; k < index; k++) if (source.charCodeAt(k) === 10) line++;
  return line;
}

/** Every sans-IO violation in one module's source text. Pure: no file system access. */
export function checkSansIo(source: string): Violation[] {
  const violations: Violation[] = [];
  for (const { specifier, index } of importSpecifiers(source)) {
    if (isRelativeSpecifier(specifier)) continue;
    const rule =
      specifier === "bun" || specifier.startsWith("bun:")
        ? "import bun"
        : specifier.startsWith("node:")
          ? "import node:"
          : "import bare module";
    violations.push({ line: lineAt(source, index), rule, text: specifier });
  }
  const { bare } = stripCommentsAndStrings(source);
  for (const { rule, pattern } of FORBIDDEN_GLOBALS) {
    for (const m of bare.matchAll(pattern)) {
      violations.push({ line: lineAt(source, m.index), rule, text: m[0] });
    }
  }
  return violations.sort((a, b) => a.line - b.line);
}

describe("checkSansIo (the checker itself)", () => {
  const flagged: ReadonlyArray<[rule: string, source: string]> = [
    ["import bun", `import { udpSocket } from "bun";`],
    ["import bun", `import { dlopen } from "bun:ffi";`],
    ["import bun", `import type { Socket } from 'bun';`],
    ["import node:", `import { randomBytes } from "node:crypto";`],
    ["import node:", `import "node:fs";`],
    ["import node:", `export { setTimeout } from "node:timers";`],
    ["import bare module", `import fc from "fast-check";`],
    ["import bare module", `import * as noble from "@noble/ciphers/chacha";`],
    ["import bare module", `export * from "sodium-native";`],
    ["import bare module", `import {\n  a,\n  b,\n} from "dgram";`],
    ["dynamic import()", `const m = await import("node:dgram");`],
    ["require()", `const d = require("dgram");`],
    ["Date.now", `const t = Date.now();`],
    ["Date.now", `const t = Date . now ();`],
    ["new Date", `const d = new Date();`],
    ["Date()", `const s = Date();`],
    ["performance.now", `const t = performance.now();`],
    ["Math.random", `const r = Math.random();`],
    ["setTimeout", `setTimeout(() => {}, 10);`],
    ["setTimeout", `const h = setTimeout; clearTimeout(x);`],
    ["setInterval", `setInterval(tick, 16);`],
    ["setImmediate", `setImmediate(flush);`],
    ["queueMicrotask", `queueMicrotask(flush);`],
    ["process.", `if (process.env.DEBUG) log();`],
    ["process.", `const t = process.hrtime.bigint();`],
    ["Bun.", `const t = Bun.nanoseconds();`],
    ["crypto.", `crypto.getRandomValues(buf);`],
    ["globalThis", `const c = globalThis.crypto;`],
    ["Date.now", "const s = `at ${Date.now()} ms`;"],
    ["Date.now", "const s = `a ${`b ${x}`} ${Date.now()}`;"],
    ["Math.random", `const x = a / b; const r = Math.random();`],
    ["Math.random", `const re = /"/; const r = Math.random();`],
  ];
  test.each(flagged)("flags %s in: %s", (rule, source) => {
    expect(checkSansIo(source).map((v) => v.rule)).toContain(rule);
  });

  const allowed: ReadonlyArray<string> = [
    `import { encode } from "./wire.ts";`,
    `import type { Address } from "../protocol/types.ts";`,
    `export * from "./seq.ts";`,
    `// drivers inject crypto.getRandomValues; never call Date.now() here`,
    `/* setTimeout(() => {}, 1); import "bun"; */ const x = 1;`,
    `const msg = "use Date.now() in the driver, not process.env";`,
    "const msg = `Math.random is banned, ${count} uses`;",
    `const r = Math.imul(a, b) + Math.floor(c);`,
    `handleTimeout(now: number): void { this.setTimeout(now); }`,
    `peer.process.bytes++; stats.crypto.sealed++; obj.Bun.x = 1;`,
    `const re = /import "bun"/; const y = 2;`,
    `export function f(now: number): number { return now + 1; }`,
  ];
  test.each(allowed)("allows: %s", (source) => {
    expect(checkSansIo(source)).toEqual([]);
  });

  test("reports the line of each violation", () => {
    const src = `import { a } from "./a.ts";\n// Date.now()\nconst t = Date.now();\nimport x from "bun";\n`;
    expect(checkSansIo(src)).toEqual([
      { line: 3, rule: "Date.now", text: "Date.now" },
      { line: 4, rule: "import bun", text: "bun" },
    ]);
  });
});

const PROTOCOL_DIR = import.meta.dir;
const REPO_ROOT = resolve(PROTOCOL_DIR, "../../../..");

function listModules(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...listModules(path));
    else if (entry.name.endsWith(".ts") && !entry.name.endsWith(".test.ts")) out.push(path);
  }
  return out;
}

/** Resolves a relative specifier the way Bun does for our sources (explicit .ts, or a directory index). */
function resolveRelative(fromFile: string, specifier: string): string | undefined {
  const base = resolve(dirname(fromFile), specifier);
  for (const candidate of [base, `${base}.ts`, join(base, "index.ts")]) {
    if (existsSync(candidate) && statSync(candidate).isFile()) return candidate;
  }
  return undefined;
}

describe("packages/core/src/protocol is sans-IO", () => {
  test("no protocol module (or module it imports) touches I/O, clocks, timers or randomness", () => {
    const roots = listModules(PROTOCOL_DIR);
    // An empty scan would pass vacuously; the engine has modules from day one.
    expect(roots.length).toBeGreaterThan(0);

    // Follow relative imports: a protocol file importing ../driver/udp.ts would pull Bun in indirectly.
    const seen = new Set<string>();
    const queue = [...roots];
    const problems: string[] = [];
    while (queue.length > 0) {
      const file = queue.pop()!;
      if (seen.has(file)) continue;
      seen.add(file);
      const source = readFileSync(file, "utf8");
      const where = relative(REPO_ROOT, file).split(sep).join("/");
      for (const v of checkSansIo(source)) problems.push(`${where}:${v.line}: ${v.rule} (${v.text})`);
      for (const { specifier } of importSpecifiers(source)) {
        if (!isRelativeSpecifier(specifier)) continue;
        const target = resolveRelative(file, specifier);
        if (target === undefined) problems.push(`${where}: cannot resolve import "${specifier}"`);
        else if (target.endsWith(".ts")) queue.push(target);
      }
    }
    expect(problems).toEqual([]);
  });
});
