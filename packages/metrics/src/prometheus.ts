/**
 * Prometheus text exposition format 0.0.4 (what every Prometheus server and
 * agent scrapes): `# HELP`, `# TYPE`, then `name{label="value"} number` per
 * series; histograms as cumulative `_bucket{le}` + `_sum` + `_count`,
 * summaries as `{quantile}` + `_sum` + `_count`. And a helper that serves it
 * at `/metrics` with `Bun.serve`.
 */
import { ErrorCode, FastnetError } from "@fastnet/core/protocol";
import { collectFamilies, type Labels, type MetricFamily, type MetricsSource } from "./families.ts";

/** The Content-Type of the text format. */
export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

function escapeLabel(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function escapeHelp(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

/** A sample value as the format spells it (`+Inf`, `-Inf`, `NaN`). */
export function formatValue(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return String(v);
}

function labelText(labels: Labels, extra?: [string, string]): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(labels)) parts.push(`${k}="${escapeLabel(v)}"`);
  if (extra !== undefined) parts.push(`${extra[0]}="${escapeLabel(extra[1])}"`);
  return parts.length === 0 ? "" : `{${parts.join(",")}}`;
}

/** Renders families in the Prometheus text format (ends with a newline). */
export function formatPrometheus(families: readonly MetricFamily[]): string {
  const lines: string[] = [];
  for (const f of families) {
    lines.push(`# HELP ${f.name} ${escapeHelp(f.help)}`);
    lines.push(`# TYPE ${f.name} ${f.type}`);
    switch (f.type) {
      case "counter":
      case "gauge":
        for (const p of f.points) lines.push(`${f.name}${labelText(p.labels)} ${formatValue(p.value)}`);
        break;
      case "histogram":
        for (const p of f.points) {
          let cum = 0;
          for (let i = 0; i < p.bounds.length; i++) {
            cum += p.counts[i] ?? 0;
            lines.push(`${f.name}_bucket${labelText(p.labels, ["le", formatValue(p.bounds[i]!)])} ${formatValue(cum)}`);
          }
          lines.push(`${f.name}_bucket${labelText(p.labels, ["le", "+Inf"])} ${formatValue(p.count)}`);
          lines.push(`${f.name}_sum${labelText(p.labels)} ${formatValue(p.sum)}`);
          lines.push(`${f.name}_count${labelText(p.labels)} ${formatValue(p.count)}`);
        }
        break;
      case "summary":
        for (const p of f.points) {
          for (const q of p.quantiles) lines.push(`${f.name}${labelText(p.labels, ["quantile", String(q.quantile)])} ${formatValue(q.value)}`);
          lines.push(`${f.name}_sum${labelText(p.labels)} ${formatValue(p.sum)}`);
          lines.push(`${f.name}_count${labelText(p.labels)} ${formatValue(p.count)}`);
        }
        break;
    }
  }
  return `${lines.join("\n")}\n`;
}

/** The Prometheus text of one or several metrics plugins (or snapshots, or families). */
export function prometheusText(sources: MetricsSource | MetricsSource[]): string {
  return formatPrometheus(collectFamilies(sources));
}

export interface ServeMetricsOptions {
  /** TCP port. Default 9464 (the OpenTelemetry Prometheus exporter's port); 0 = any free port. */
  port?: number;
  /** Address to bind. Default "127.0.0.1": expose it wider on purpose (it names peers' RTT and traffic). */
  hostname?: string;
  /** Path served. Default "/metrics". */
  path?: string;
}

/**
 * Serves `/metrics` with `Bun.serve`; every scrape takes a fresh snapshot of each source.
 * Returns the Bun server (`server.port`, `server.url`, `await server.stop()`).
 *
 * ```ts
 * const m = metrics({ labels: { endpoint: "eu-1" } });
 * const server = await listen({ port: 7777, plugins: [m] });
 * const http = serveMetrics(m, { port: 9464 });
 * ```
 */
export function serveMetrics(sources: MetricsSource | MetricsSource[], options: ServeMetricsOptions = {}): ReturnType<typeof Bun.serve> {
  const { port = 9464, hostname = "127.0.0.1", path = "/metrics" } = options;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new FastnetError(ErrorCode.INVALID_CONFIG, `serveMetrics: option 'port' must be an integer in [0, 65535], got ${String(port)}`);
  }
  if (typeof path !== "string" || !path.startsWith("/")) {
    throw new FastnetError(ErrorCode.INVALID_CONFIG, `serveMetrics: option 'path' must start with '/', got ${String(path)}`);
  }
  return Bun.serve({
    port,
    hostname,
    fetch(req) {
      const url = new URL(req.url);
      if (url.pathname !== path) return new Response("not found\n", { status: 404 });
      if (req.method !== "GET" && req.method !== "HEAD") return new Response("method not allowed\n", { status: 405, headers: { allow: "GET, HEAD" } });
      let body: string;
      try {
        body = prometheusText(sources);
      } catch (err) {
        return new Response(`metrics collection failed: ${err instanceof Error ? err.message : String(err)}\n`, { status: 500 });
      }
      return new Response(req.method === "HEAD" ? null : body, { headers: { "content-type": PROMETHEUS_CONTENT_TYPE } });
    },
  });
}
