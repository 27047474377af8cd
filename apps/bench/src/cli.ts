/** Command line of the bench (parsed without dependencies; unit-tested). */
import { SCENARIOS, type Pinning, type Scenario } from "./schema.ts";

export interface CliOptions {
  quick: boolean;
  scenarios: Scenario[];
  /** JSON output path; the Markdown and SVG go next to it (.md, .svg). */
  out: string;
  rounds: number | undefined;
  transports: string[] | undefined;
  /** RTT scenario pinnings; undefined = all three (unpinned only without taskset). */
  pinnings: Pinning[] | undefined;
  help: boolean;
}

export const USAGE = `bun run bench [options]          (from the repo root; or: bun apps/bench/src/main.ts)

  --quick               smoke run: fewer samples, one round, small N (under a minute)
  --scenario NAME[,..]  rtt | throughput | scale | badnet | all (default all)
  --out FILE            JSON results (default apps/bench/results/bench.json);
                        FILE.md (Markdown) and FILE.svg (chart) are written beside it
  --rounds N            interleaved rounds per configuration (default per scenario)
  --transports A,B      only these transports (raw-udp, the baseline, is always kept)
  --pinning A,B         RTT pinnings: same-core, cross-core, unpinned (default all three)
  --help                this text`;

export class CliError extends Error {}

export function parseArgs(argv: readonly string[], defaultOut: string): CliOptions {
  const o: CliOptions = { quick: false, scenarios: [...SCENARIOS], out: defaultOut, rounds: undefined, transports: undefined, pinnings: undefined, help: false };
  const value = (i: number, flag: string): string => {
    const v = argv[i + 1];
    if (v === undefined || v.startsWith("--")) throw new CliError(`${flag} needs a value`);
    return v;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const [flag, inline] = a.includes("=") ? [a.slice(0, a.indexOf("=")), a.slice(a.indexOf("=") + 1)] : [a, undefined];
    const take = (): string => {
      if (inline !== undefined) return inline;
      const v = value(i, flag!);
      i++;
      return v;
    };
    switch (flag) {
      case "--quick":
        o.quick = true;
        break;
      case "--help":
      case "-h":
        o.help = true;
        break;
      case "--scenario":
      case "--scenarios": {
        const names = take().split(",").map((s) => s.trim()).filter((s) => s !== "");
        if (names.includes("all")) {
          o.scenarios = [...SCENARIOS];
          break;
        }
        for (const n of names) if (!SCENARIOS.includes(n as Scenario)) throw new CliError(`unknown scenario '${n}' (known: ${SCENARIOS.join(", ")}, all)`);
        if (names.length === 0) throw new CliError("--scenario needs a name");
        o.scenarios = SCENARIOS.filter((s) => names.includes(s));
        break;
      }
      case "--out":
        o.out = take();
        break;
      case "--rounds": {
        const v = Number(take());
        if (!Number.isInteger(v) || v < 1 || v > 100) throw new CliError(`--rounds must be an integer in [1, 100]`);
        o.rounds = v;
        break;
      }
      case "--transports":
      case "--transport":
        o.transports = take().split(",").map((s) => s.trim()).filter((s) => s !== "");
        break;
      case "--pinning": {
        const names = take().split(",").map((x) => x.trim()).filter((x) => x !== "");
        for (const n of names) if (n !== "same-core" && n !== "cross-core" && n !== "unpinned") throw new CliError(`unknown pinning '${n}' (same-core, cross-core, unpinned)`);
        if (names.length === 0) throw new CliError("--pinning needs a value");
        o.pinnings = names as Pinning[];
        break;
      }
      default:
        throw new CliError(`unknown option '${a}'`);
    }
  }
  return o;
}

/** The Markdown and SVG paths that go with a JSON path. */
export function companionPaths(out: string): { md: string; svg: string } {
  const base = out.endsWith(".json") ? out.slice(0, -5) : out;
  return { md: `${base}.md`, svg: `${base}.svg` };
}
