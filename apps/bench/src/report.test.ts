import { describe, expect, test } from "bun:test";
import { CliError, companionPaths, parseArgs } from "./cli.ts";
import { tcpRepairDelayMs } from "./relay.ts";
import { markdownReport, svgReport, terminalReport } from "./report.ts";
import { buildPack, countPack, perPack } from "./scenarios/throughput.ts";
import { emptyRecord, SCHEMA_VERSION, validateDocument, validateRecord, type BenchDocument, type BenchRecord } from "./schema.ts";
import { cdfPanel, escapeXml, logTicks, tailScale } from "./svg.ts";

function rttRecord(transport: string, p50: number, ratio: number | null): BenchRecord {
  const r = emptyRecord("rtt", transport, "normal", "cross-core", 64);
  Object.assign(r, { samples: 100, avg_us: p50 + 1, p50_us: p50, p99_us: p50 * 2, p999_us: p50 * 3, max_us: p50 * 4, ratio_p50_vs_raw: ratio, ratio_p99_vs_raw: ratio, lost: 0, rounds: 1, cdf: [[p50 / 2, 0], [p50, 0.5], [p50 * 4, 1]] });
  return r;
}

function doc(records: BenchRecord[]): BenchDocument {
  return {
    schema_version: SCHEMA_VERSION, generated_at: "2026-01-01T00:00:00.000Z", command: "bun run bench --quick", bun_version: "1.4.4",
    cpu_model: "Test CPU <&>", cpus: 2, taskset: true, quick: true, duration_s: 1, loadavg_start: 0.1, loadavg_end: 0.2, records,
  };
}

describe("command line", () => {
  test("defaults, flags, scenario lists, rounds, transports", () => {
    expect(parseArgs([], "/x.json")).toEqual({ quick: false, scenarios: ["rtt", "throughput", "scale", "badnet"], out: "/x.json", rounds: undefined, transports: undefined, pinnings: undefined, help: false });
    const o = parseArgs(["--quick", "--scenario", "badnet,rtt", "--out=/tmp/a.json", "--rounds", "3", "--transports", "websocket, fastnet-reliable"], "/x.json");
    expect(o).toEqual({ quick: true, scenarios: ["rtt", "badnet"], out: "/tmp/a.json", rounds: 3, transports: ["websocket", "fastnet-reliable"], pinnings: undefined, help: false });
    expect(parseArgs(["--pinning", "unpinned,cross-core"], "/x").pinnings).toEqual(["unpinned", "cross-core"]);
    expect(parseArgs(["--scenario", "all"], "/x").scenarios.length).toBe(4);
    expect(parseArgs(["--help"], "/x").help).toBe(true);
  });
  const bad: [string[], string][] = [
    [["--scenario", "nope"], "unknown scenario 'nope'"],
    [["--rounds", "0"], "--rounds"],
    [["--out"], "--out needs a value"],
    [["--frobnicate"], "unknown option"],
    [["--pinning", "diagonal"], "unknown pinning"],
  ];
  test.each(bad)("%p is rejected", (argv, msg) => {
    expect(() => parseArgs(argv, "/x")).toThrow(CliError);
    expect(() => parseArgs(argv, "/x")).toThrow(msg);
  });
  test("the Markdown and SVG sit beside the JSON", () => {
    expect(companionPaths("/r/bench.json")).toEqual({ md: "/r/bench.md", svg: "/r/bench.svg" });
    expect(companionPaths("/r/out")).toEqual({ md: "/r/out.md", svg: "/r/out.svg" });
  });
});

describe("JSON schema validation", () => {
  test("a well-formed document passes", () => {
    expect(validateDocument(doc([rttRecord("raw-udp", 30, 1), rttRecord("websocket", 28, 0.93)]))).toEqual([]);
  });
  test("problems are named", () => {
    const missing = rttRecord("raw-udp", 30, 1) as Partial<BenchRecord>;
    delete missing.p99_us;
    expect(validateRecord(missing)).toContain("missing field p99_us");
    expect(validateRecord({ ...rttRecord("a", 30, 1), extra: 1 }).join()).toContain("unknown field extra");
    expect(validateRecord({ ...rttRecord("a", 30, 1), pinning: "sideways" }).join()).toContain("field pinning");
    expect(validateRecord({ ...rttRecord("a", 30, 1), p99_us: 10 }).join()).toContain("not ordered");
    expect(validateRecord({ ...rttRecord("a", 30, 1), cdf: [[1, 0.5], [2, 0.4]] }).join()).toContain("field cdf");
    expect(validateRecord({ ...rttRecord("a", 30, 1), ratio_p50_vs_raw: NaN }).join()).toContain("ratio_p50_vs_raw");
    expect(validateRecord(emptyRecord("throughput", "x", "packed-64B", "cross-core", 64)).join()).toContain("msgs_per_s");
    expect(validateDocument(doc([rttRecord("a", 30, 1), rttRecord("a", 31, 1)])).join()).toContain("duplicate");
    expect(validateDocument({ ...doc([]), schema_version: 99 }).join()).toContain("schema_version");
  });
});

describe("renderings", () => {
  const d = doc([rttRecord("raw-udp", 30, 1), rttRecord("websocket", 28, 0.93), rttRecord("fastnet-reliable", 60, 2)]);
  test("terminal table: title, header, one row per record, aligned", () => {
    const text = terminalReport(d);
    expect(text).toContain("1. RTT ping-pong");
    const lines = text.split("\n");
    const head = lines.findIndex((l) => l.startsWith("transport"));
    expect(lines[head + 2]).toContain("raw-udp");
    expect(lines[head + 4]).toContain("fastnet-reliable");
    expect(lines[head + 4]).toContain("2.00x");
    expect(new Set([lines[head]!.indexOf("samples") + 7, lines[head + 2]!.indexOf("100") + 3]).size).toBe(1);
  });
  test("markdown: a table with a header row, an alignment row and one row per record, and the chart", () => {
    const md = markdownReport(d, "bench.svg");
    expect(md).toContain("![latency CDFs and ratios](bench.svg)");
    const rows = md.split("\n").filter((l) => l.startsWith("|"));
    expect(rows.length).toBe(2 + 3);
    expect(rows[1]).toMatch(/^\|---\|/);
  });
  test("svg: one document, escaped text, a polyline per CDF series, a bar per ratio", () => {
    const svg = svgReport(d);
    expect(svg.startsWith("<svg xmlns=\"http://www.w3.org/2000/svg\"")).toBe(true);
    expect(svg.trimEnd().endsWith("</svg>")).toBe(true);
    expect(svg).toContain("Test CPU &lt;&amp;&gt;");
    expect(svg.match(/<polyline/g)?.length).toBe(3);
    expect(svg.match(/<rect x=/g)?.length).toBeGreaterThanOrEqual(4);
    expect(svg).not.toContain("NaN");
    expect((svg.match(/<g /g) ?? []).length).toBe((svg.match(/<\/g>/g) ?? []).length);
  });
  test("svg helpers", () => {
    expect(escapeXml(`a<b>&"c"`)).toBe("a&lt;b&gt;&amp;&quot;c&quot;");
    expect(logTicks(10, 1000)).toEqual([10, 20, 50, 100, 200, 500, 1000]);
    expect(logTicks(0.01, 1000)).toEqual([0.01, 0.1, 1, 10, 100, 1000]);
    expect([0, 0.9, 0.99, 0.999].map((f) => Math.round(tailScale(f) * 1000) / 1000)).toEqual([0, 1, 2, 3]);
    expect(tailScale(1)).toBeGreaterThan(tailScale(0.9999));
    expect(cdfPanel("empty", []).body).toContain("no data");
  });
});

describe("scenario helpers", () => {
  test("app-level packing: count, build, parse", () => {
    expect(perPack(64)).toBe(18);
    expect(perPack(1200)).toBe(1);
    const pack = buildPack(64, 18);
    expect(pack.length).toBe(18 * 66);
    expect(countPack(pack)).toBe(18);
    expect(countPack(buildPack(1200, 1))).toBe(1);
  });
  test("TCP repair delay model: not lost = 0; lost = min(fast retransmit, TLP); lost again adds RTO", () => {
    const seq = (...xs: number[]) => () => xs.shift() ?? 1;
    expect(tcpRepairDelayMs(seq(0.5), 0.1, 40, 16.7)).toBe(0);
    expect(tcpRepairDelayMs(seq(0.05, 0.5), 0.1, 40, 16.7)).toBe(80); // min(3*16.7+40, 80)
    expect(tcpRepairDelayMs(seq(0.05, 0.5), 0.1, 40, 5)).toBe(55); // fast retransmit first
    expect(tcpRepairDelayMs(seq(0.05, 0.05, 0.05, 0.5), 0.1, 40, 16.7)).toBe(80 + 200 + 400);
  });
});
