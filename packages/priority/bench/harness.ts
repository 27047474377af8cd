/**
 * Simulator harness for the priority plugin (scenario tests and figures): a
 * client saturates a bandwidth-limited link with messages of several classes
 * every tick; the server records, for every message, its class and how long
 * it took (the first payload bytes carry the class, an index and the send time).
 */
import { Endpoint, type Peer, SeededRandom } from "@fastnet/core/protocol";
import { type LinkConfig, Simulator } from "@fastnet/core/sim";
import { priority, type PriorityOptions, type PriorityPlugin, type PrioritySendOptions } from "../src/index.ts";

export interface Offer {
  /** Class name (null: plain endpoint.send, the channel's default class). */
  priority: string | null;
  channel: number;
  /** Messages per tick (fractional: one every 1/x ticks). */
  perTick: number;
  bytes: number;
  /** Entity keys to cycle through (supersession), if any. */
  keys?: number;
}

export interface SaturationOptions {
  seed: number;
  offers: Offer[];
  ticks: number;
  tickMs?: number;
  link?: LinkConfig;
  priority?: PriorityOptions | null;
}

export interface Delivery {
  offer: number;
  sentAt: number;
  at: number;
  bytes: number;
}

export interface SaturationResult {
  deliveries: Delivery[];
  sent: number[];
  plugin: PriorityPlugin | undefined;
  clientPeer: Peer;
  /** Virtual time the ticks ended. */
  end: number;
}

const SERVER = { host: "10.0.0.1", port: 4000 };
const CLIENT = { host: "10.0.0.2", port: 5000 };
const HEADER = 13;

export function runSaturation(o: SaturationOptions): SaturationResult {
  const tickMs = o.tickMs ?? 16;
  const sim = new Simulator({ seed: o.seed, link: { latencyMs: 20 } });
  const plugin = o.priority === null ? undefined : priority(o.priority ?? {});
  const server = new Endpoint({ random: new SeededRandom(o.seed ^ 1), insecurePlaintext: true, acceptConnections: true });
  const client = new Endpoint({ random: new SeededRandom(o.seed ^ 2), insecurePlaintext: true, plugins: plugin ? [plugin] : [], maxQueuedBytes: 64 << 20 });
  sim.addNode(server, SERVER);
  sim.addNode(client, CLIENT);
  const clientPeer = client.connect(0, SERVER);
  let connected = false;
  sim.runUntil(() => {
    for (let ev = server.pollEvent(); ev; ev = server.pollEvent()) if (ev.type === "connected") connected = true;
    while (client.pollEvent()) { /* connected */ }
    return connected && clientPeer.state === "connected";
  }, { maxMs: 5000 });
  if (!connected) throw new Error("priority harness: did not connect");
  sim.setLink(CLIENT, SERVER, o.link ?? { latencyMs: 20, bandwidthBps: 100_000, queueLimitBytes: 20_000 });
  const deliveries: Delivery[] = [];
  const drain = (): boolean => {
    for (let ev = server.pollEvent(); ev; ev = server.pollEvent()) {
      if (ev.type !== "message") continue;
      const v = new DataView(ev.data.buffer, ev.data.byteOffset, ev.data.byteLength);
      deliveries.push({ offer: v.getUint8(0), sentAt: v.getFloat64(5), at: sim.now, bytes: ev.data.length });
    }
    while (client.pollEvent()) { /* nothing */ }
    return false;
  };
  const sent = o.offers.map(() => 0);
  const credit = o.offers.map(() => 0);
  const buffers = o.offers.map((of) => new Uint8Array(Math.max(HEADER, of.bytes)));
  for (let t = 0; t < o.ticks; t++) {
    o.offers.forEach((of, k) => {
      credit[k]! += of.perTick;
      for (; credit[k]! >= 1; credit[k]!--) {
        const b = buffers[k]!;
        const v = new DataView(b.buffer);
        v.setUint8(0, k);
        v.setUint32(1, sent[k]!);
        v.setFloat64(5, sim.now);
        const opts: PrioritySendOptions = {};
        if (of.priority !== null) opts.priority = of.priority;
        if (of.keys !== undefined) opts.key = sent[k]! % of.keys;
        if (plugin) plugin.send(client, clientPeer, of.channel, b, opts);
        else client.send(clientPeer, of.channel, b, undefined, sim.now);
        sent[k]!++;
      }
    });
    sim.runUntil(drain, { maxMs: tickMs });
  }
  const end = sim.now;
  sim.runUntil(drain, { maxMs: 3000 });
  return { deliveries, sent, plugin, clientPeer, end };
}
