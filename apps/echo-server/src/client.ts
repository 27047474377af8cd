/**
 * fastnet echo client: `bun src/client.ts [udp://127.0.0.1:7777] --fingerprint AB:CD:... [--count 1000] [--size 64] [--spin]`
 * (or `--ca server.pem`). Verifies the server, then sends numbered probes on
 * every channel over encrypted UDP and prints RTT and delivery per channel.
 */
import { parseArgs } from "node:util";
import { formatReport, runEchoClient } from "./echo.ts";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    count: { type: "string", default: "1000" },
    size: { type: "string", default: "64" },
    spin: { type: "boolean", default: false },
    fingerprint: { type: "string" },
    ca: { type: "string" },
  },
});
const target = positionals[0] ?? "udp://127.0.0.1:7777";
if (values.fingerprint === undefined && values.ca === undefined) {
  console.error("pass --fingerprint (printed by the server in dev mode) or --ca <pem> to verify the server");
  process.exit(2);
}
const report = await runEchoClient(target, {
  count: Number(values.count),
  size: Number(values.size),
  spin: values.spin,
  ...(values.fingerprint !== undefined ? { fingerprint: values.fingerprint } : {}),
  ...(values.ca !== undefined ? { ca: await Bun.file(values.ca).text() } : {}),
});
console.log(formatReport(report));
const reliableLost = report.channels.filter((c) => c.channel.startsWith("reliable")).some((c) => c.lost > 0);
process.exit(reliableLost ? 1 : 0);
