/**
 * fastnet echo client: `bun src/client.ts [udp://127.0.0.1:7777] [--count 1000] [--size 64] [--spin]`.
 * Sends numbered probes on every channel and prints RTT and delivery per channel.
 */
import { parseArgs } from "node:util";
import { formatReport, runEchoClient } from "./echo.ts";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    count: { type: "string", default: "1000" },
    size: { type: "string", default: "64" },
    spin: { type: "boolean", default: false },
  },
});
const target = positionals[0] ?? "udp://127.0.0.1:7777";
const report = await runEchoClient(target, {
  count: Number(values.count),
  size: Number(values.size),
  spin: values.spin,
  insecurePlaintext: true,
});
console.log(formatReport(report));
const reliableLost = report.channels.filter((c) => c.channel.startsWith("reliable")).some((c) => c.lost > 0);
process.exit(reliableLost ? 1 : 0);
