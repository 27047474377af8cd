/**
 * Renderings of a bench document: readable terminal tables, Markdown, and
 * the SVG chart (latency CDFs per transport, ratio bar charts).
 */
import type { BenchDocument, BenchRecord, Scenario } from "./schema.ts";
import { barPanel, cdfPanel, composeSvg, type Panel } from "./svg.ts";

type Col = { head: string; get: (r: BenchRecord) => string; right?: boolean };

const us = (v: number | null): string => (v === null ? "-" : v >= 10_000 ? `${(v / 1000).toFixed(1)} ms` : `${v.toFixed(1)}`);
const ms = (v: number | null): string => (v === null ? "-" : (v / 1000).toFixed(1));
const x = (v: number | null): string => (v === null ? "-" : `${v.toFixed(2)}x`);
const n = (v: number | null): string => (v === null ? "-" : Math.round(v).toLocaleString("en-US"));

const COLUMNS: Record<Scenario, { title: string; cols: Col[] }> = {
  rtt: {
    title: "1. RTT ping-pong, 64 B (µs; one ping outstanding; echo in its own process)",
    cols: [
      { head: "transport", get: (r) => r.transport },
      { head: "mode", get: (r) => r.mode },
      { head: "pinning", get: (r) => r.pinning },
      { head: "samples", get: (r) => n(r.samples), right: true },
      { head: "avg", get: (r) => us(r.avg_us), right: true },
      { head: "p50", get: (r) => us(r.p50_us), right: true },
      { head: "p99", get: (r) => us(r.p99_us), right: true },
      { head: "p99.9", get: (r) => us(r.p999_us), right: true },
      { head: "max", get: (r) => us(r.max_us), right: true },
      { head: "p50/raw", get: (r) => x(r.ratio_p50_vs_raw), right: true },
      { head: "p99/raw", get: (r) => x(r.ratio_p99_vs_raw), right: true },
    ],
  },
  throughput: {
    title: "2. Throughput, one way (at the receiver)",
    cols: [
      { head: "transport", get: (r) => r.transport },
      { head: "mode", get: (r) => r.mode },
      { head: "msgs/s", get: (r) => n(r.msgs_per_s), right: true },
      { head: "MB/s", get: (r) => (r.mb_per_s === null ? "-" : r.mb_per_s.toFixed(1)), right: true },
      { head: "loss %", get: (r) => (r.loss_pct === null ? "-" : r.loss_pct.toFixed(2)), right: true },
      { head: "vs raw", get: (r) => x(r.ratio_msgs_vs_raw), right: true },
      { head: "note", get: (r) => r.note },
    ],
  },
  scale: {
    title: "3. Server scale: N clients, 64 B input echoed (RTT µs under load)",
    cols: [
      { head: "transport", get: (r) => r.transport },
      { head: "Hz", get: (r) => n(r.hz), right: true },
      { head: "N", get: (r) => n(r.clients), right: true },
      { head: "samples", get: (r) => n(r.samples), right: true },
      { head: "p50", get: (r) => us(r.p50_us), right: true },
      { head: "p99", get: (r) => us(r.p99_us), right: true },
      { head: "p99.9", get: (r) => us(r.p999_us), right: true },
      { head: "p50/raw", get: (r) => x(r.ratio_p50_vs_raw), right: true },
      { head: "CPU µs/dgram", get: (r) => (r.server_cpu_us_per_datagram === null ? "-" : r.server_cpu_us_per_datagram.toFixed(1)), right: true },
      { head: "heap B/peer", get: (r) => n(r.mem_per_peer_bytes), right: true },
      { head: "RSS B/peer", get: (r) => n(r.rss_per_peer_bytes), right: true },
      { head: "loss %", get: (r) => (r.loss_pct === null ? "-" : r.loss_pct.toFixed(2)), right: true },
      { head: "note", get: (r) => r.note },
    ],
  },
  badnet: {
    title: "4. Bad network: age of the latest 60 Hz state update at the receiver (ms), 40 ms RTT",
    cols: [
      { head: "transport", get: (r) => r.transport },
      { head: "loss", get: (r) => (r.loss_pct === null ? "-" : `${r.loss_pct}%`), right: true },
      { head: "samples", get: (r) => n(r.samples), right: true },
      { head: "p50 age", get: (r) => ms(r.p50_us), right: true },
      { head: "p99 age", get: (r) => ms(r.p99_us), right: true },
      { head: "p99.9", get: (r) => ms(r.p999_us), right: true },
      { head: "max", get: (r) => ms(r.max_us), right: true },
      { head: "p50/raw", get: (r) => x(r.ratio_p50_vs_raw), right: true },
      { head: "p99/raw", get: (r) => x(r.ratio_p99_vs_raw), right: true },
    ],
  },
};

export function headerLines(doc: BenchDocument): string[] {
  return [
    `Bun ${doc.bun_version} · ${doc.cpu_model} · ${doc.cpus} CPUs · pinning ${doc.taskset ? "taskset (same-core = both on CPU 0; cross-core = client CPU 0, server CPU 1)" : "unavailable (unpinned)"}`,
    `${doc.generated_at} · ${doc.duration_s.toFixed(0)} s · load average ${doc.loadavg_start.toFixed(2)} → ${doc.loadavg_end.toFixed(2)}${doc.quick ? " · QUICK (smoke) run" : ""}`,
    `command: ${doc.command}`,
  ];
}

function scenariosIn(doc: BenchDocument): Scenario[] {
  return (["rtt", "throughput", "scale", "badnet"] as Scenario[]).filter((s) => doc.records.some((r) => r.scenario === s));
}

export function terminalReport(doc: BenchDocument): string {
  const out: string[] = [...headerLines(doc), ""];
  for (const s of scenariosIn(doc)) {
    const { title, cols } = COLUMNS[s];
    const rows = doc.records.filter((r) => r.scenario === s);
    const cells = rows.map((r) => cols.map((c) => c.get(r)));
    const widths = cols.map((c, i) => Math.max(c.head.length, ...cells.map((row) => row[i]!.length)));
    const line = (vals: string[]): string => vals.map((v, i) => (cols[i]!.right ? v.padStart(widths[i]!) : v.padEnd(widths[i]!))).join("  ").trimEnd();
    out.push(title, line(cols.map((c) => c.head)), line(widths.map((w) => "-".repeat(w))), ...cells.map(line), "");
  }
  return out.join("\n");
}

export function markdownReport(doc: BenchDocument, svgPath?: string): string {
  const out: string[] = ["# fastnet bench results", "", ...headerLines(doc).map((l) => `${l}  `), ""];
  if (svgPath !== undefined) out.push(`![latency CDFs and ratios](${svgPath})`, "");
  for (const s of scenariosIn(doc)) {
    const { title, cols } = COLUMNS[s];
    out.push(`## ${title}`, "", `| ${cols.map((c) => c.head).join(" | ")} |`, `|${cols.map((c) => (c.right ? "---:" : "---")).join("|")}|`);
    for (const r of doc.records.filter((x) => x.scenario === s)) out.push(`| ${cols.map((c) => c.get(r).replace(/\|/g, "\\|")).join(" | ")} |`);
    out.push("");
  }
  return out.join("\n");
}

/** The chart: RTT CDFs per (mode, pinning), bad-network age CDFs per loss, ratio bars per scenario. */
export function svgReport(doc: BenchDocument): string {
  const panels: Panel[] = [];
  const rtt = doc.records.filter((r) => r.scenario === "rtt");
  const combos = [...new Set(rtt.map((r) => `${r.mode}|${r.pinning}`))];
  for (const combo of combos) {
    const [mode, pinning] = combo.split("|");
    const rs = rtt.filter((r) => r.mode === mode && r.pinning === pinning && r.cdf.length > 0);
    panels.push(cdfPanel(`RTT CDF, 64 B, ${mode}, ${pinning}`, rs.map((r) => ({ name: r.transport, points: r.cdf }))));
  }
  const bad = doc.records.filter((r) => r.scenario === "badnet");
  for (const mode of [...new Set(bad.map((r) => r.mode))]) {
    const rs = bad.filter((r) => r.mode === mode && r.cdf.length > 0);
    panels.push(cdfPanel(`Bad network ${mode}: age of latest state`, rs.map((r) => ({ name: r.transport, points: r.cdf }))));
  }
  const scale = doc.records.filter((r) => r.scenario === "scale");
  const biggest = scale.filter((r) => r.clients === Math.max(...scale.map((s) => s.clients ?? 0)));
  for (const mode of [...new Set(biggest.map((r) => r.mode))]) {
    const rs = biggest.filter((r) => r.mode === mode && r.cdf.length > 0);
    panels.push(cdfPanel(`Server scale ${mode}: RTT under load`, rs.map((r) => ({ name: r.transport, points: r.cdf }))));
  }
  const nonRaw = (r: BenchRecord): boolean => r.transport !== "raw-udp";
  if (rtt.length > 0) {
    panels.push(barPanel("RTT: ratio to raw UDP (same mode and pinning)", rtt.filter(nonRaw).map((r) => ({ label: `${r.transport} ${r.mode} ${r.pinning}`, values: [r.ratio_p50_vs_raw, r.ratio_p99_vs_raw] })), ["p50", "p99"]));
  }
  const tp = doc.records.filter((r) => r.scenario === "throughput");
  if (tp.length > 0) panels.push(barPanel("Throughput: msgs/s relative to raw UDP", tp.filter(nonRaw).map((r) => ({ label: `${r.transport} ${r.mode}`, values: [r.ratio_msgs_vs_raw] })), ["msgs/s vs raw"]));
  if (scale.length > 0) panels.push(barPanel("Server scale: RTT ratio to raw UDP", scale.filter(nonRaw).map((r) => ({ label: `${r.transport} ${r.mode}`, values: [r.ratio_p50_vs_raw, r.ratio_p99_vs_raw] })), ["p50", "p99"]));
  if (bad.length > 0) panels.push(barPanel("Bad network: age ratio to raw UDP", bad.filter(nonRaw).map((r) => ({ label: `${r.transport} ${r.mode}`, values: [r.ratio_p50_vs_raw, r.ratio_p99_vs_raw] })), ["p50", "p99"]));
  const sub = `Bun ${doc.bun_version} · ${doc.cpu_model} · ${doc.cpus} CPUs · ${doc.generated_at}${doc.quick ? " · QUICK run" : ""} · ${doc.command}`;
  return composeSvg("fastnet bench: latency CDFs per transport and ratios to raw UDP", sub, panels, 2);
}
