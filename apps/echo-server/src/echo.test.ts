/**
 * End-to-end tests of the encrypted echo server and its measuring client over
 * real TLS + UDP on 127.0.0.1: in-process, and as the real CLI processes.
 */
import { expect, test } from "bun:test";
import { runEchoClient, startEchoServer } from "./echo.ts";

test("the echo client gets every reliable probe back, in order where ordered", async () => {
  const { server, done } = await startEchoServer({ host: "127.0.0.1", port: 0, log: () => {} });
  try {
    const report = await runEchoClient(`udp://127.0.0.1:${server.address.port}`, { count: 300, fingerprint: server.fingerprint256 });
    const byName = Object.fromEntries(report.channels.map((c) => [c.channel, c]));
    for (const name of ["reliable-ordered", "reliable-unordered"]) {
      expect(byName[name]!.sent).toBe(300);
      expect(byName[name]!.received).toBe(300);
      expect(byName[name]!.duplicates).toBe(0);
    }
    expect(byName["reliable-ordered"]!.outOfOrder).toBe(0);
    expect(byName["sequenced"]!.outOfOrder).toBe(0);
    expect(byName["unreliable"]!.duplicates).toBe(0);
    expect(report.channels.every((c) => c.received === 0 || c.p50Us > 0)).toBe(true);
  } finally {
    await server.close();
  }
  expect(await done).toBeGreaterThanOrEqual(600);
});

test("the server CLI prints its address and fingerprint and echoes for the client CLI that pins it", async () => {
  const dir = new URL(".", import.meta.url).pathname;
  const server = Bun.spawn(["bun", `${dir}server.ts`, "--host", "127.0.0.1", "--port", "0"], { stdout: "pipe", stderr: "pipe" });
  try {
    const reader = server.stdout.getReader();
    let text = "";
    const until = performance.now() + 10_000;
    while (!text.includes("\n") && performance.now() < until) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    const info = JSON.parse(text.split("\n")[0]!) as { listening: { port: number }; fingerprint: string };
    const port = info.listening.port;
    expect(port).toBeGreaterThan(0);
    expect(info.fingerprint).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    const client = Bun.spawn(["bun", `${dir}client.ts`, `udp://127.0.0.1:${port}`, "--count", "100", "--fingerprint", info.fingerprint], { stdout: "pipe", stderr: "pipe" });
    const out = await new Response(client.stdout).text();
    expect(await client.exited).toBe(0);
    expect(out).toMatch(/reliable-ordered\s+100\s+100\s+0/);
    expect(out).toContain("smoothed RTT");
  } finally {
    server.kill();
    await server.exited;
  }
});
