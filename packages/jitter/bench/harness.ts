/**
 * Simulator harness for the jitter plugin (scenario tests and figures): a
 * client sends one frame every `frameMs` on an unreliable channel; the server
 * plays them out through the plugin. Every message event is stamped with the
 * virtual time it came out at, so output cadence can be measured exactly.
 */
import { Endpoint, type Peer, SeededRandom } from "@fastnet/core/protocol";
import { type LinkConfig, Simulator } from "@fastnet/core/sim";
import { jitter, type JitterOptions, type JitterPlugin } from "../src/index.ts";

export interface StreamPhase {
  /** Frames to send in this phase. */
  frames: number;
  /** Client -> server link during the phase. */
  link: LinkConfig;
  /** False: the sender is silent for the phase's frames (a pause, silence suppression). Default true. */
  send?: boolean;
}

export interface StreamOptions {
  seed: number;
  phases: StreamPhase[];
  frameMs?: number;
  frameBytes?: number;
  jitter?: JitterOptions;
  /** Sender clock drift, parts per million (the sender's timestamps run this much fast). */
  driftPpm?: number;
}

export interface Output {
  /** Virtual time it reached the application. */
  t: number;
  /** Frame index, or -1 for a gap marker. */
  frame: number;
}

export interface StreamResult {
  outputs: Output[];
  sent: number;
  plugin: JitterPlugin;
  peer: Peer;
  /** Virtual time each phase ended (after its last frame was sent). */
  phaseEnds: number[];
  /** Playout delay sampled once per frame period: [time, delayMs]. */
  delays: [number, number][];
}

const SERVER = { host: "10.0.0.1", port: 4000 };
const CLIENT = { host: "10.0.0.2", port: 5000 };

export function runJitterStream(o: StreamOptions): StreamResult {
  const frameMs = o.frameMs ?? 20;
  const size = Math.max(4, o.frameBytes ?? 160);
  const sim = new Simulator({ seed: o.seed });
  const opts: JitterOptions = { frameMs, ...o.jitter };
  const drift = 1 + (o.driftPpm ?? 0) / 1e6;
  const plugin = jitter(opts);
  const server = new Endpoint({ random: new SeededRandom(o.seed ^ 1), insecurePlaintext: true, acceptConnections: true, plugins: [plugin] });
  const client = new Endpoint({ random: new SeededRandom(o.seed ^ 2), insecurePlaintext: true, plugins: [jitter({ ...opts, clock: (now) => 1_000_000 + now * drift })] });
  sim.addNode(server, SERVER);
  sim.addNode(client, CLIENT);
  const clientPeer = client.connect(0, SERVER);
  let peer: Peer | undefined;
  sim.runUntil(() => {
    for (let ev = server.pollEvent(); ev; ev = server.pollEvent()) if (ev.type === "connected") peer = ev.peer;
    while (client.pollEvent()) { /* connected */ }
    return peer !== undefined && clientPeer.state === "connected";
  }, { maxMs: 5000 });
  if (peer === undefined) throw new Error("jitter harness: did not connect");
  const outputs: Output[] = [];
  const delays: [number, number][] = [];
  const drain = (): boolean => {
    for (let ev = server.pollEvent(); ev; ev = server.pollEvent()) {
      if (ev.type !== "message") continue;
      const frame = ev.data.length === 0 ? -1 : new DataView(ev.data.buffer, ev.data.byteOffset).getUint32(0);
      outputs.push({ t: sim.now, frame });
    }
    while (client.pollEvent()) { /* nothing */ }
    return false;
  };
  const payload = new Uint8Array(size);
  const view = new DataView(payload.buffer);
  let sent = 0;
  const phaseEnds: number[] = [];
  // Sends start on a frame boundary of the virtual clock.
  sim.runFor(frameMs - (sim.now % frameMs));
  for (const phase of o.phases) {
    sim.setLink(CLIENT, SERVER, phase.link);
    for (let f = 0; f < phase.frames; f++) {
      if (phase.send !== false) {
        view.setUint32(0, sent++);
        client.send(clientPeer, 1, payload, undefined, sim.now);
      }
      sim.runUntil(drain, { maxMs: frameMs });
      const st = plugin.stats(peer, 1);
      if (st !== undefined) delays.push([sim.now, st.delayMs]);
    }
    phaseEnds.push(sim.now);
  }
  sim.runUntil(drain, { maxMs: 2000 });
  return { outputs, sent, plugin, peer, phaseEnds, delays };
}

/** Intervals between consecutive outputs (frames and gap markers), ms. */
export function intervals(outputs: readonly Output[]): number[] {
  const out: number[] = [];
  for (let i = 1; i < outputs.length; i++) out.push(outputs[i]!.t - outputs[i - 1]!.t);
  return out;
}
