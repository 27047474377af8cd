/**
 * Entry point of every child process of the bench (servers, clients, load
 * generators, relays): `bun worker.ts <command> ...args`. Results go to
 * stdout as JSON lines; commands come on stdin. A worker exits when its
 * stdin closes (the orchestrator died) or after 15 minutes, so no process
 * outlives the bench.
 */
import { rttClient, rttServer } from "./scenarios/rtt.ts";
import { tpReceiver, tpSender } from "./scenarios/throughput.ts";
import { scaleLoad, scaleServer } from "./scenarios/scale.ts";
import { bnClient, bnServer } from "./scenarios/badnet.ts";
import { relay } from "./relay.ts";

const commands: Record<string, (args: string[]) => Promise<void>> = {
  "rtt-server": rttServer,
  "rtt-client": rttClient,
  "tp-recv": tpReceiver,
  "tp-send": tpSender,
  "scale-server": scaleServer,
  "scale-load": scaleLoad,
  "bn-server": bnServer,
  "bn-client": bnClient,
  relay,
};

const [cmd, ...args] = process.argv.slice(2);
const run = commands[cmd ?? ""];
if (run === undefined) {
  console.error(`worker: unknown command '${cmd}' (known: ${Object.keys(commands).join(", ")})`);
  process.exit(2);
}
setTimeout(() => process.exit(3), 15 * 60_000).unref();
process.on("SIGTERM", () => process.exit(0));
await run(args);
