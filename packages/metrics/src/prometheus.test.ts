import { afterAll, describe, expect, test } from "bun:test";
import { Channel, connect, listen } from "@fastnet/core";
import { createPair } from "@fastnet/core/testing";
import { metrics } from "./metrics.ts";
import { formatPrometheus, formatValue, PROMETHEUS_CONTENT_TYPE, prometheusText, serveMetrics } from "./prometheus.ts";
import { snapshotFamilies, type MetricFamily } from "./families.ts";

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$/;
const LABEL_PAIR = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\["\\n])*)"(,|$)/;
const UNIT_SUFFIXES = ["_seconds", "_bytes", "_ratio"];

function parseValue(v: string): number {
  if (v === "+Inf") return Infinity;
  if (v === "-Inf") return -Infinity;
  if (v === "NaN") return NaN;
  if (!/^-?\d+(\.\d+)?(e[+-]?\d+)?$/i.test(v)) throw new Error(`bad value ${v}`);
  return Number(v);
}

/**
 * A strict reader of the Prometheus text format 0.0.4, plus the naming rules
 * we promise: returns problems (empty = valid) and the parsed samples.
 */
function validateExposition(text: string): { problems: string[]; samples: Sample[]; types: Map<string, string> } {
  const problems: string[] = [];
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  const helps = new Set<string>();
  const seen = new Set<string>();
  if (!text.endsWith("\n")) problems.push("the text does not end with a newline");
  const familyOf = (name: string): string | undefined => {
    if (types.has(name)) return name;
    for (const suffix of ["_bucket", "_sum", "_count"]) {
      if (name.endsWith(suffix)) {
        const base = name.slice(0, -suffix.length);
        const t = types.get(base);
        if (t === "histogram" || (t === "summary" && suffix !== "_bucket")) return base;
      }
    }
    return undefined;
  };
  const lines = text.split("\n").slice(0, -1);
  lines.forEach((line, i) => {
    const where = `line ${i + 1}`;
    if (line.startsWith("# HELP ")) {
      const name = line.slice(7).split(" ")[0]!;
      if (!NAME.test(name)) problems.push(`${where}: bad HELP name ${name}`);
      if (helps.has(name)) problems.push(`${where}: second HELP for ${name}`);
      helps.add(name);
      return;
    }
    if (line.startsWith("# TYPE ")) {
      const [name, type, ...rest] = line.slice(7).split(" ");
      if (rest.length > 0 || name === undefined || !NAME.test(name)) problems.push(`${where}: bad TYPE line`);
      if (!["counter", "gauge", "histogram", "summary", "untyped"].includes(type ?? "")) problems.push(`${where}: bad type ${type}`);
      if (types.has(name!)) problems.push(`${where}: second TYPE for ${name}`);
      if (samples.some((s) => familyOf(s.name) === name)) problems.push(`${where}: TYPE after samples of ${name}`);
      types.set(name!, type!);
      if (!name!.startsWith("fastnet_")) problems.push(`${where}: ${name} lacks the fastnet_ prefix`);
      if (type === "counter" && !name!.endsWith("_total")) problems.push(`${where}: counter ${name} does not end in _total`);
      if (type !== "counter" && name!.endsWith("_total")) problems.push(`${where}: non-counter ${name} ends in _total`);
      if ((type === "histogram" || type === "summary") && !UNIT_SUFFIXES.some((u) => name!.endsWith(u))) problems.push(`${where}: ${name} has no unit suffix`);
      return;
    }
    if (line.startsWith("#") || line === "") {
      problems.push(`${where}: unexpected line ${JSON.stringify(line)}`);
      return;
    }
    const m = SAMPLE.exec(line);
    if (m === null) {
      problems.push(`${where}: not a sample: ${line}`);
      return;
    }
    const name = m[1]!;
    const labels: Record<string, string> = {};
    let rest = m[3] ?? "";
    while (rest.length > 0) {
      const lp = LABEL_PAIR.exec(rest);
      if (lp === null) {
        problems.push(`${where}: bad labels ${m[3]}`);
        break;
      }
      if (!LABEL_NAME.test(lp[1]!) || lp[1]!.startsWith("__")) problems.push(`${where}: bad label name ${lp[1]}`);
      if (lp[1]! in labels) problems.push(`${where}: duplicate label ${lp[1]}`);
      labels[lp[1]!] = lp[2]!.replace(/\\n/g, "\n").replace(/\\"/g, '"').replace(/\\\\/g, "\\");
      rest = rest.slice(lp[0].length);
    }
    let value = NaN;
    try {
      value = parseValue(m[4]!);
    } catch (err) {
      problems.push(`${where}: ${(err as Error).message}`);
    }
    const family = familyOf(name);
    if (family === undefined) problems.push(`${where}: sample ${name} has no TYPE before it`);
    const key = `${name}${JSON.stringify(Object.entries(labels).sort())}`;
    if (seen.has(key)) problems.push(`${where}: duplicate series ${key}`);
    seen.add(key);
    if (family !== undefined && types.get(family) === "counter" && !(value >= 0)) problems.push(`${where}: counter ${name} is ${value}`);
    samples.push({ name, labels, value });
  });
  // Histograms: cumulative buckets with ascending le, +Inf last and equal to _count.
  for (const [name, type] of types) {
    if (type !== "histogram") continue;
    const byPoint = new Map<string, Sample[]>();
    for (const s of samples.filter((x) => x.name === `${name}_bucket`)) {
      const { le: _le, ...rest } = s.labels;
      const k = JSON.stringify(Object.entries(rest).sort());
      byPoint.set(k, [...(byPoint.get(k) ?? []), s]);
    }
    for (const [k, buckets] of byPoint) {
      const les = buckets.map((b) => parseValue(b.labels.le ?? "x"));
      if (les.some((x, i) => i > 0 && x <= les[i - 1]!)) problems.push(`${name}${k}: le not ascending`);
      if (les[les.length - 1] !== Infinity) problems.push(`${name}${k}: no +Inf bucket`);
      if (buckets.some((b, i) => i > 0 && b.value < buckets[i - 1]!.value)) problems.push(`${name}${k}: buckets not cumulative`);
      const count = samples.find((s) => s.name === `${name}_count` && JSON.stringify(Object.entries(s.labels).sort()) === k);
      if (count === undefined || count.value !== buckets[buckets.length - 1]!.value) problems.push(`${name}${k}: +Inf bucket != _count`);
    }
  }
  return { problems, samples, types };
}

describe("the Prometheus text format", () => {
  test("the validator itself rejects broken expositions", () => {
    const bad: [string, string][] = [
      ["# TYPE fastnet_x_total counter\nfastnet_x_total -1\n", "counter fastnet_x_total is -1"],
      ["# TYPE fastnet_x counter\nfastnet_x 1\n", "does not end in _total"],
      ["fastnet_y 1\n", "no TYPE"],
      ["# TYPE fastnet_z gauge\nfastnet_z{a=\"1\",a=\"2\"} 1\n", "duplicate label"],
      ["# TYPE fastnet_z gauge\nfastnet_z 1\nfastnet_z 2\n", "duplicate series"],
      ["# TYPE fastnet_h_seconds histogram\nfastnet_h_seconds_bucket{le=\"1\"} 5\nfastnet_h_seconds_bucket{le=\"+Inf\"} 4\nfastnet_h_seconds_count 4\n", "not cumulative"],
      ["# TYPE fastnet_z gauge\nfastnet_z 1", "newline"],
      ["# TYPE fastnet_z gauge\nfastnet_z one\n", "bad value"],
    ];
    for (const [text, expected] of bad) expect(validateExposition(text).problems.join("; ")).toContain(expected);
  });

  test("values and label values are escaped as the format says", () => {
    expect([formatValue(Infinity), formatValue(-Infinity), formatValue(NaN), formatValue(0.25)]).toEqual(["+Inf", "-Inf", "NaN", "0.25"]);
    const fam: MetricFamily = { type: "gauge", name: "fastnet_t", unit: "", otelName: "t", otelUnit: "1", help: "a \\ b\nc", points: [{ labels: { endpoint: 'q"\\\n' }, value: 1 }] };
    const text = formatPrometheus([fam]);
    expect(text).toBe('# HELP fastnet_t a \\\\ b\\nc\n# TYPE fastnet_t gauge\nfastnet_t{endpoint="q\\"\\\\\\n"} 1\n');
    const v = validateExposition(text);
    expect(v.problems).toEqual([]);
    expect(v.samples[0]!.labels.endpoint).toBe('q"\\\n');
  });

  test("a simulator snapshot renders to a valid exposition with bounded peer labels", () => {
    const server = metrics({ labels: { endpoint: "sim" }, peerSeries: 1 });
    const pair = createPair({ seed: 3, link: { latencyMs: 10, loss: 0.05 }, server: { plugins: [server] }, client: { plugins: [metrics()] } });
    for (let i = 0; i < 100; i++) {
      pair.server.send(pair.serverPeer, i % 2 === 0 ? Channel.Reliable : Channel.Sequenced, new Uint8Array(80), undefined, pair.sim.now);
      pair.sim.flush();
      pair.runFor(5);
    }
    pair.runFor(500);
    const text = prometheusText(server.snapshot(pair.sim.now));
    const v = validateExposition(text);
    expect(v.problems).toEqual([]);
    expect(v.samples.every((s) => s.labels.endpoint === "sim")).toBe(true);
    const peersLabelled = new Set(v.samples.map((s) => s.labels.peer).filter((p) => p !== undefined));
    expect(peersLabelled.size).toBe(1);
    expect(v.types.get("fastnet_rtt_seconds")).toBe("histogram");
    expect(v.types.get("fastnet_peer_rtt_seconds")).toBe("summary");
    const rtt = v.samples.find((s) => s.name === "fastnet_peer_smoothed_rtt_seconds")!;
    expect(rtt.value).toBeGreaterThan(0.019);
    expect(rtt.value).toBeLessThan(0.03);
    // peerSeries: 0 keeps only the endpoint series.
    const none = validateExposition(formatPrometheus(snapshotFamilies(server.snapshot(pair.sim.now), { peerSeries: 0 })));
    expect(none.problems).toEqual([]);
    expect(none.samples.some((s) => s.labels.peer !== undefined)).toBe(false);
  });
});

describe("serveMetrics: /metrics over real HTTP", () => {
  const cleanup: (() => Promise<unknown> | void)[] = [];
  afterAll(async () => {
    for (const c of cleanup.reverse()) await c();
  });

  test("a real UDP server and client with metrics, scraped with fetch, give a valid exposition", async () => {
    const sm = metrics({ labels: { endpoint: "server" } });
    const cm = metrics({ labels: { endpoint: "client" } });
    const server = await listen({ host: "127.0.0.1", port: 0, insecurePlaintext: true, plugins: [sm] });
    cleanup.push(() => server.close());
    const echo = (async () => {
      for await (const ev of server) if (ev.type === "message") server.send(ev.peer, ev.channel, ev.data);
    })();
    const client = await connect({ host: "127.0.0.1", port: server.address.port }, { insecurePlaintext: true, plugins: [cm] });
    cleanup.push(() => client.close());
    for (let i = 0; i < 50; i++) {
      client.send(i % 2 === 0 ? Channel.Reliable : Channel.Unreliable, new Uint8Array(64).fill(i));
      for (;;) {
        const ev = await client.next(1000);
        if (ev === undefined || ev.type === "message") break;
      }
    }
    // Both endpoints behind one /metrics (distinct constant labels).
    const http = serveMetrics([sm, cm], { port: 0 });
    cleanup.push(() => http.stop(true));
    const res = await fetch(`http://127.0.0.1:${http.port}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe(PROMETHEUS_CONTENT_TYPE);
    const text = await res.text();
    const v = validateExposition(text);
    expect(v.problems).toEqual([]);
    const value = (name: string, endpoint: string): number | undefined => v.samples.find((s) => s.name === name && s.labels.endpoint === endpoint && s.labels.peer === undefined)?.value;
    expect(value("fastnet_peers", "server")).toBe(1);
    expect(value("fastnet_connections_total", "client")).toBe(1);
    expect(value("fastnet_packets_received_total", "server")!).toBeGreaterThanOrEqual(50);
    expect(value("fastnet_rtt_seconds_count", "client")!).toBeGreaterThan(0);
    const rtt = v.samples.find((s) => s.name === "fastnet_peer_smoothed_rtt_seconds" && s.labels.endpoint === "client")!;
    expect(rtt.value).toBeGreaterThan(0);
    expect(rtt.value).toBeLessThan(0.2);
    // Every HELP has its TYPE, each family once, although two plugins contributed.
    expect(text.split("\n").filter((l) => l === "# TYPE fastnet_peers gauge").length).toBe(1);

    const other = await fetch(`http://127.0.0.1:${http.port}/other`);
    expect(other.status).toBe(404);
    await other.text();
    const post = await fetch(`http://127.0.0.1:${http.port}/metrics`, { method: "POST" });
    expect(post.status).toBe(405);
    await post.text();
    void echo;
  });

  test("options are validated", () => {
    expect(() => serveMetrics(metrics(), { port: 70000 })).toThrow("port");
    expect(() => serveMetrics(metrics(), { port: 0, path: "metrics" })).toThrow("path");
  });
});
