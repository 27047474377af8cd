/**
 * `bun run bench` in packages/core: the engine micro-benchmark (ns per
 * datagram at 1, 64, 1024 peers) and the same-run RTT comparison of raw
 * Bun.udpSocket vs fastnet core, normal and spin mode. `--quick` for a smoke run.
 */
import { benchEngine } from "./engine.ts";
import { benchRtt, coreTransports, formatRtt } from "./rtt.ts";

const quick = process.argv.includes("--quick");
const cpu = (await Bun.file("/proc/cpuinfo").text().catch(() => "")).match(/model name\s*:\s*(.*)/)?.[1] ?? "unknown CPU";
console.log(`@fastnet/core bench — Bun ${Bun.version}, ${cpu}, ${navigator.hardwareConcurrency} cores${quick ? " (quick)" : ""}\n`);

console.log("Engine, ns per 64 B datagram (median of 5 rounds)");
console.log("peers  channel            encode ns  handle ns");
for (const r of benchEngine(quick ? [1, 64] : [1, 64, 1024], quick ? 20_000 : 200_000)) {
  console.log(`${String(r.peers).padStart(5)}  ${r.channel.padEnd(17)}  ${r.encodeNs.toFixed(0).padStart(9)}  ${r.handleNs.toFixed(0).padStart(9)}`);
}
console.log("\nRTT, 64 B ping-pong over 127.0.0.1 (echo in a separate process, rounds interleaved)");
console.log(formatRtt(await benchRtt(new URL("./rtt.ts", import.meta.url).pathname, coreTransports, quick ? 1000 : 4000, quick ? 2 : 5, quick ? 200 : 500)));
