/**
 * Smoke test: the real command line, a --quick run of one cheap scenario
 * (RTT, two transports: raw UDP and WebSocket, one round), separate processes
 * and all. Checks that it exits 0 and that the JSON matches its schema, and
 * that the Markdown and SVG are written. No timing thresholds.
 */
import { afterAll, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { validateDocument, type BenchDocument } from "./schema.ts";

const dir = mkdtempSync(join(tmpdir(), "fastnet-bench-smoke-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("bench --quick --scenario rtt writes JSON that matches the schema, plus Markdown and SVG", async () => {
  const out = join(dir, "smoke.json");
  const proc = Bun.spawn([process.execPath, join(import.meta.dir, "main.ts"), "--quick", "--scenario", "rtt", "--transports", "raw-udp,websocket", "--rounds", "1", "--out", out], {
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env },
  });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  if (code !== 0) throw new Error(`bench exited ${code}\n${stdout.slice(-2000)}\n${stderr.slice(-2000)}`);
  const doc = JSON.parse(readFileSync(out, "utf8")) as BenchDocument;
  expect(validateDocument(doc)).toEqual([]);
  expect(doc.quick).toBe(true);
  expect(doc.records.length).toBeGreaterThanOrEqual(2);
  expect(new Set(doc.records.map((r) => r.scenario))).toEqual(new Set(["rtt"]));
  expect(new Set(doc.records.map((r) => r.transport))).toEqual(new Set(["raw-udp", "websocket"]));
  for (const r of doc.records) {
    expect(r.samples).toBeGreaterThan(0);
    if (r.transport === "raw-udp") expect(r.ratio_p50_vs_raw).toBe(1);
    else expect(r.ratio_p50_vs_raw).not.toBeNull();
  }
  expect(existsSync(join(dir, "smoke.md"))).toBe(true);
  expect(readFileSync(join(dir, "smoke.svg"), "utf8")).toContain("<svg");
  expect(stdout).toContain("1. RTT ping-pong");
}, 60_000);
