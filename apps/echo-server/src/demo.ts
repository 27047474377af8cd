/**
 * The README's first command: starts the encrypted echo server as its own
 * process (dev mode: ephemeral self-signed certificate), runs the measuring
 * client against it pinning the printed fingerprint, prints the results,
 * stops the server.
 */
import { formatReport, runEchoClient } from "./echo.ts";

const server = Bun.spawn(["bun", new URL("./server.ts", import.meta.url).pathname, "--host", "127.0.0.1", "--port", "0"], {
  stdout: "pipe",
  stderr: "inherit",
});
const reader = server.stdout.getReader();
const decoder = new TextDecoder();
let buffered = "";
let address: { host: string; port: number } | undefined;
let fingerprint = "";
const started = performance.now();
while (address === undefined && performance.now() - started < 10_000) {
  const { value, done } = await reader.read();
  if (done) break;
  buffered += decoder.decode(value);
  for (const line of buffered.split("\n")) {
    if (line.startsWith("{\"listening\"")) {
      const info = JSON.parse(line);
      address = info.listening;
      fingerprint = info.fingerprint;
    }
    else if (line.trim()) console.log(`[server] ${line}`);
  }
  buffered = buffered.slice(buffered.lastIndexOf("\n") + 1);
}
if (address === undefined) {
  console.error("echo server did not start");
  server.kill();
  process.exit(1);
}
console.log(`echo server (pid ${server.pid}) on udp://${address.host}:${address.port}`);
console.log(`client: pinning the server certificate, SHA-256 ${fingerprint}`);
// Keep printing what the server says (connects, disconnects) while the client runs.
void (async () => {
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    for (const line of decoder.decode(value).split("\n")) if (line.trim()) console.log(`[server] ${line}`);
  }
})();
const count = Number(process.env.DEMO_COUNT ?? 2000);
console.log(`client: TLS 1.3 handshake, then ${count} probes of 64 B on each of 4 channels over ChaCha20-Poly1305 UDP...`);
const report = await runEchoClient(`udp://${address.host}:${address.port}`, { count, fingerprint });
console.log(formatReport(report));
await Bun.sleep(100);
server.kill("SIGTERM");
await server.exited;
const ok = report.channels.filter((c) => c.channel.startsWith("reliable")).every((c) => c.lost === 0);
console.log(ok ? "OK: every reliable message was echoed" : "FAILED: reliable messages went missing");
process.exit(ok ? 0 : 1);
