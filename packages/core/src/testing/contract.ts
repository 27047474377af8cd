/**
 * The plugin contract: what every plugin package (fec, delta, priority,
 * crypto, metrics, ...) proves from its own bun:test file with
 *
 *   pluginContract(() => myPlugin(), { ...options });
 *
 * Each check is a plain function `(makePlugin, options) => string[]` that runs
 * the plugin on real endpoints over the deterministic Simulator and returns
 * the problems it found (empty = honoured). `pluginContract` wraps them in
 * describe/test blocks; the functions are exported too, so the contract can
 * itself be tested against deliberately broken plugins.
 */
import { describe, expect, test } from "bun:test";
import type { EndpointConfig } from "../protocol/config.ts";
import { Endpoint } from "../protocol/endpoint.ts";
import { ErrorCode } from "../protocol/errors.ts";
import type { Plugin } from "../protocol/plugin.ts";
import { SeededRandom } from "../protocol/random.ts";
import type { Address, ChannelKind } from "../protocol/types.ts";
import { DATA_HEADER_SIZE, HEADER_SIZE, PacketType, VERSION_BYTE, packetTypeOf } from "../protocol/wire.ts";
import type { LinkConfig } from "../sim/link.ts";
import { createPair, type Pair, type PairOptions, type Side } from "./harness.ts";

/** Endpoint options a plugin package may set for the contract's endpoints (plugins go through `stack`). */
export type ContractEndpointConfig = Partial<Omit<EndpointConfig, "plugins" | "random">>;

export interface ContractOptions {
  /** Label of the describe block. Default: the plugin's name. */
  name?: string;
  /** Plugin for the server endpoint when the two sides differ. Default: makePlugin. */
  makeServerPlugin?: () => Plugin;
  /** Plugin for the client endpoint when the two sides differ. Default: makePlugin. */
  makeClientPlugin?: () => Plugin;
  /** Extra configuration of both endpoints (e.g. `mtu`, `channels`, timeouts). */
  endpoint?: ContractEndpointConfig;
  /** Extra configuration of the server endpoint only (applied after `endpoint`). */
  server?: ContractEndpointConfig;
  /** Extra configuration of the client endpoint only (applied after `endpoint`). */
  client?: ContractEndpointConfig;
  /**
   * The full plugin list of an endpoint, given the plugin under test: for plugins that need
   * companions (e.g. FEC tested under crypto: `(p) => [p, crypto()]`). Default `(p) => [p]`.
   */
  stack?: (plugin: Plugin, side: Side) => Plugin[];
  /** Run the 10% loss + reordering + duplication scenario. Default true. */
  loss?: boolean;
  /**
   * The plugin fills the secure-handshake slot: endpoints do not set insecurePlaintext, and
   * garbage may forge any packet type from the real peer's address (authentication must drop it).
   */
  secure?: boolean;
  /** Seed of every scenario. Default 0x5eed. */
  seed?: number;
  /** Checks not to run (reported as skipped). */
  skip?: ContractCheckName[];
}

export type ContractCheckName =
  | "identity"
  | "registration"
  | "mtu"
  | "delivery"
  | "delivery-under-loss"
  | "garbage"
  | "disconnect"
  | "deadlines"
  | "determinism";

/** A contract check: returns the problems found, [] when the plugin honours this part of the contract. */
export type ContractCheck = (makePlugin: () => Plugin, options?: ContractOptions) => string[];

const CLEAN_LINK: LinkConfig = { latencyMs: 10 };
const LOSSY_LINK: LinkConfig = { latencyMs: 10, jitterMs: 3, loss: 0.1, reorder: 0.1, reorderDelayMs: 25, duplicate: 0.05 };
const DEFAULT_SEED = 0x5eed;
/** Problems reported per check at most: the first ones say enough. */
const MAX_PROBLEMS = 12;
const BIG_MESSAGE = 100_000;

// ---- Plumbing ----

interface Subject {
  server: () => Plugin;
  client: () => Plugin;
  options: ContractOptions;
}

function subjectOf(makePlugin: () => Plugin, options: ContractOptions = {}): Subject {
  return { server: options.makeServerPlugin ?? makePlugin, client: options.makeClientPlugin ?? makePlugin, options };
}

function stackOf(subject: Subject, plugin: Plugin, side: Side): Plugin[] {
  return subject.options.stack ? subject.options.stack(plugin, side) : [plugin];
}

function sideConfig(subject: Subject, side: Side, plugins: Plugin[], over?: ContractEndpointConfig): Partial<EndpointConfig> {
  const o = subject.options;
  return {
    insecurePlaintext: o.secure !== true,
    ...o.endpoint,
    ...(side === "server" ? o.server : o.client),
    ...over,
    plugins,
  };
}

interface ContractPair extends Pair {
  /** The plugin instances under test (server side, client side). */
  serverPlugin: Plugin;
  clientPlugin: Plugin;
}

function makePair(subject: Subject, link: LinkConfig, seed: number, extra: { over?: ContractEndpointConfig; capture?: boolean } = {}): ContractPair {
  const serverPlugin = subject.server();
  const clientPlugin = subject.client();
  const options: PairOptions = {
    seed,
    link,
    trace: true,
    capture: extra.capture === true,
    server: sideConfig(subject, "server", stackOf(subject, serverPlugin, "server"), extra.over),
    client: sideConfig(subject, "client", stackOf(subject, clientPlugin, "client"), extra.over),
  };
  return { ...createPair(options), serverPlugin, clientPlugin };
}

function describeError(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    const frames = (err.stack ?? "").split("\n").slice(1, 4).map((l) => l.trim()).join(" | ");
    return `${err.name}${typeof code === "string" ? ` [${code}]` : ""}: ${err.message}${frames ? ` (${frames})` : ""}`;
  }
  return String(err);
}

/** Runs `body`, turning an exception into a problem. */
function guarded(problems: string[], label: string, body: () => void): void {
  try {
    body();
  } catch (err) {
    problems.push(`${label}: threw ${describeError(err)}`);
  }
}

function capped(problems: string[]): string[] {
  if (problems.length <= MAX_PROBLEMS) return problems;
  return [...problems.slice(0, MAX_PROBLEMS), `... and ${problems.length - MAX_PROBLEMS} more`];
}

const DIRS = ["client→server", "server→client"] as const;

// ---- Traffic: numbered, self-checking messages on every channel, both ways ----

const MAGIC = 0xa5;
const MSG_HEADER = 5;
const TICKS = 24;
const TICK_MS = 16;
const SMALL_SIZES = [12, 200, 40, 900, 5, 300];

function patternByte(dir: number, ch: number, idx: number, i: number): number {
  return (i * 31 + idx * 7 + ch * 13 + dir * 101 + 0x5a) & 0xff;
}

function makeMessage(dir: number, ch: number, idx: number, size: number): Uint8Array {
  const m = new Uint8Array(Math.max(MSG_HEADER, size));
  m[0] = MAGIC;
  m[1] = dir;
  m[2] = ch;
  m[3] = idx >> 8;
  m[4] = idx & 0xff;
  for (let i = MSG_HEADER; i < m.length; i++) m[i] = patternByte(dir, ch, idx, i);
  return m;
}

interface Plan {
  kinds: ChannelKind[];
  /** sizes[ch][idx] */
  sizes: number[][];
}

function makePlan(pair: Pair): Plan {
  const kinds: ChannelKind[] = [];
  for (let ch = 0; ch < pair.server.channelCount; ch++) kinds.push(pair.server.channelKind(ch)!);
  const maxMessage = Math.min(pair.server.cfg.maxMessageSize, pair.client.cfg.maxMessageSize);
  const sizes = kinds.map((kind) => {
    const row: number[] = [];
    for (let idx = 0; idx < TICKS; idx++) {
      let size = SMALL_SIZES[idx % SMALL_SIZES.length]!;
      if (idx === 5 && kind === "reliable-ordered") size = BIG_MESSAGE;
      else if (idx === 7 && kind === "reliable-unordered") size = 6000;
      else if (idx === 9) size = 2500;
      row.push(Math.max(MSG_HEADER, Math.min(size, maxMessage)));
    }
    return row;
  });
  return { kinds, sizes };
}

const isReliable = (kind: ChannelKind): boolean => kind === "reliable-ordered" || kind === "reliable-unordered";

interface TrafficResult {
  problems: string[];
  pair: ContractPair | undefined;
  /** "dir:ch:idx" of every delivery, in order: compared by the determinism check. */
  deliveries: string[];
}

/**
 * Connects a pair, sends TICKS rounds of messages on every channel both ways (one of them a
 * fragmented 100 KB reliable message), runs until every reliable message arrived, and checks
 * delivery by channel kind.
 */
function runTraffic(subject: Subject, label: string, link: LinkConfig, seed: number, lossy: boolean, over?: ContractEndpointConfig): TrafficResult {
  const problems: string[] = [];
  const deliveries: string[] = [];
  let pair: ContractPair | undefined;
  guarded(problems, label, () => {
    pair = makePair(subject, link, seed, over !== undefined ? { over } : {});
    const p = pair;
    const plan = makePlan(p);
    const peers = [p.clientPeer, p.serverPeer] as const;
    const senders = [p.client, p.server] as const;
    const expectedReliable = plan.kinds.filter(isReliable).length * TICKS * 2;
    let reliableSeen = 0;
    let scanned = [0, 0];
    const count = (): void => {
      const logs = [p.serverEvents, p.clientEvents];
      for (let d = 0; d < 2; d++) {
        const log = logs[d]!;
        for (let i = scanned[d]!; i < log.length; i++) {
          const ev = log[i]!;
          if (ev.type === "message" && plan.kinds[ev.channel] !== undefined && isReliable(plan.kinds[ev.channel]!)) reliableSeen++;
        }
        scanned[d] = log.length;
      }
    };
    p.serverEvents.length = 0;
    p.clientEvents.length = 0;
    scanned = [0, 0];
    for (let idx = 0; idx < TICKS; idx++) {
      for (let d = 0; d < 2; d++) {
        for (let ch = 0; ch < plan.kinds.length; ch++) {
          if (peers[d]!.state !== "connected") continue;
          senders[d]!.send(peers[d]!, ch, makeMessage(d, ch, idx, plan.sizes[ch]![idx]!));
        }
      }
      p.runFor(TICK_MS);
    }
    const done = p.runUntil(() => {
      count();
      return reliableSeen >= expectedReliable || peers[0].state !== "connected" || peers[1].state !== "connected";
    }, 30_000);
    // Late duplicates and reordered copies surface here.
    p.runFor(300);
    if (!done) problems.push(`${label}: not every reliable message arrived within 30 s of virtual time`);
    verifyTraffic(label, p, plan, lossy, problems, deliveries);
  });
  return { problems, pair, deliveries };
}

function verifyTraffic(label: string, pair: Pair, plan: Plan, lossy: boolean, problems: string[], deliveries: string[]): void {
  for (const [side, log] of [["server", pair.serverEvents], ["client", pair.clientEvents]] as const) {
    for (const ev of log) {
      if (ev.type === "disconnected") problems.push(`${label}: the ${side} got 'disconnected' (${ev.reason}${ev.detail ? `: ${ev.detail}` : ""}) during traffic`);
    }
  }
  // Direction d is received by the other side: client→server lands in the server's log.
  const receivedLogs = [pair.serverEvents, pair.clientEvents];
  for (let d = 0; d < 2; d++) {
    const arrivals: number[][] = plan.kinds.map(() => []);
    for (const ev of receivedLogs[d]!) {
      if (ev.type !== "message") continue;
      const where = `${label}, ${DIRS[d]}, channel ${ev.channel}`;
      const data = ev.data;
      if (!(data instanceof Uint8Array) || data.length < MSG_HEADER || data[0] !== MAGIC || data[1] !== d || data[2] !== ev.channel) {
        problems.push(`${where}: a message arrived that was never sent (${data instanceof Uint8Array ? `${data.length} bytes` : typeof data})`);
        continue;
      }
      const idx = (data[3]! << 8) | data[4]!;
      const expectedSize = plan.sizes[ev.channel]?.[idx];
      if (expectedSize === undefined || data.length !== expectedSize) {
        problems.push(`${where}: message ${idx} arrived with ${data.length} bytes, sent with ${String(expectedSize)}`);
        continue;
      }
      let bad = -1;
      for (let i = MSG_HEADER; i < data.length && bad < 0; i++) if (data[i] !== patternByte(d, ev.channel, idx, i)) bad = i;
      if (bad >= 0) {
        problems.push(`${where}: message ${idx} arrived corrupted at byte ${bad}`);
        continue;
      }
      arrivals[ev.channel]!.push(idx);
      deliveries.push(`${d}:${ev.channel}:${idx}`);
    }
    for (let ch = 0; ch < plan.kinds.length; ch++) {
      checkArrivals(`${label}, ${DIRS[d]}, channel ${ch} (${plan.kinds[ch]})`, plan.kinds[ch]!, arrivals[ch]!, lossy, problems);
    }
  }
}

function checkArrivals(where: string, kind: ChannelKind, got: number[], lossy: boolean, problems: string[]): void {
  const seen = new Set<number>();
  for (const idx of got) {
    if (seen.has(idx)) problems.push(`${where}: message ${idx} arrived more than once`);
    seen.add(idx);
  }
  const missing: number[] = [];
  for (let idx = 0; idx < TICKS; idx++) if (!seen.has(idx)) missing.push(idx);
  switch (kind) {
    case "reliable-ordered":
    case "reliable-unordered":
      if (missing.length > 0) problems.push(`${where}: ${missing.length} of ${TICKS} reliable messages never arrived (first: ${missing[0]})`);
      if (kind === "reliable-ordered") {
        for (let i = 1; i < got.length; i++) {
          if (got[i]! < got[i - 1]!) {
            problems.push(`${where}: message ${got[i]} arrived after message ${got[i - 1]}`);
            break;
          }
        }
      }
      return;
    case "unreliable":
      if (!lossy && missing.length > 0) problems.push(`${where}: ${missing.length} of ${TICKS} messages lost on a clean link (first: ${missing[0]})`);
      if (lossy && got.length === 0) problems.push(`${where}: no message arrived`);
      return;
    case "sequenced":
      for (let i = 1; i < got.length; i++) {
        if (got[i]! <= got[i - 1]!) {
          problems.push(`${where}: message ${got[i]} was delivered after the newer message ${got[i - 1]}`);
          break;
        }
      }
      if (!lossy && !seen.has(TICKS - 1)) problems.push(`${where}: the newest message (${TICKS - 1}) never arrived on a clean link`);
      if (lossy && got.length === 0) problems.push(`${where}: no message arrived`);
      return;
  }
}

// ---- Checks ----

/** The plugin has a non-empty string name and a datagramOverhead the host accepts. */
export const checkIdentity: ContractCheck = (makePlugin, options) => {
  const subject = subjectOf(makePlugin, options);
  const problems: string[] = [];
  for (const [side, make] of [["server", subject.server], ["client", subject.client]] as const) {
    let plugin: Plugin | undefined;
    guarded(problems, `making the ${side} plugin`, () => {
      plugin = make();
    });
    if (plugin === undefined) continue;
    if (plugin === null || typeof plugin !== "object") {
      problems.push(`the ${side} plugin is not an object (${plugin === null ? "null" : typeof plugin})`);
      continue;
    }
    if (typeof plugin.name !== "string" || plugin.name.length === 0) {
      problems.push(`the ${side} plugin's name must be a non-empty string, got ${JSON.stringify(plugin.name)}`);
    }
    const o = plugin.datagramOverhead;
    if (o !== undefined && !(Number.isInteger(o) && o >= 0 && o <= 1024)) {
      problems.push(`the ${side} plugin's datagramOverhead must be an integer in [0, 1024], got ${String(o)}`);
    }
    const p = plugin;
    guarded(problems, `registering the ${side} plugin on an endpoint`, () => {
      new Endpoint({ ...sideConfig(subject, side, stackOf(subject, p, side)), random: new SeededRandom(1) });
    });
  }
  return capped(problems);
};

/** Registering the plugin twice on one endpoint (two instances, or one instance twice) throws FASTNET_INVALID_PLUGIN. */
export const checkRegistration: ContractCheck = (makePlugin, options) => {
  const subject = subjectOf(makePlugin, options);
  const problems: string[] = [];
  for (const [side, make] of [["server", subject.server], ["client", subject.client]] as const) {
    guarded(problems, `registering the ${side} plugin twice`, () => {
      const a = make();
      const b = make();
      const cases: [string, Plugin[]][] = [
        ["two instances", [...stackOf(subject, a, side), b]],
        ["the same instance twice", [...stackOf(subject, a, side), a]],
      ];
      for (const [what, plugins] of cases) {
        try {
          new Endpoint({ ...sideConfig(subject, side, plugins), random: new SeededRandom(1) });
          problems.push(`${side}: registering ${what} on one endpoint did not throw`);
        } catch (err) {
          const code = (err as { code?: unknown }).code;
          if (code !== ErrorCode.INVALID_PLUGIN) {
            problems.push(`${side}: registering ${what} threw ${String(code ?? describeError(err))}, expected ${ErrorCode.INVALID_PLUGIN}`);
          }
        }
      }
    });
  }
  return capped(problems);
};

/** Can both endpoints be built with this mtu (a large total overhead may leave no room)? */
function fitsMtu(subject: Subject, mtu: number): boolean {
  try {
    for (const [side, make] of [["server", subject.server], ["client", subject.client]] as const) {
      new Endpoint({ ...sideConfig(subject, side, stackOf(subject, make(), side), { mtu }), random: new SeededRandom(1) });
    }
    return true;
  } catch {
    return false;
  }
}

/** No datagram leaving an endpoint with the plugin is larger than the endpoint mtu (its declared overhead is honoured). */
export const checkMtu: ContractCheck = (makePlugin, options) => {
  const subject = subjectOf(makePlugin, options);
  const seed = subject.options.seed ?? DEFAULT_SEED;
  const problems: string[] = [];
  const configured = subject.options.endpoint?.mtu ?? subject.options.server?.mtu ?? subject.options.client?.mtu;
  const runs: { label: string; link: LinkConfig; over?: ContractEndpointConfig }[] = [{ label: "clean link", link: CLEAN_LINK }];
  if (subject.options.loss !== false) runs.push({ label: "lossy link", link: LOSSY_LINK });
  if (configured === undefined && fitsMtu(subject, 576)) runs.push({ label: "clean link, mtu 576", link: CLEAN_LINK, over: { mtu: 576 } });
  for (const run of runs) {
    const { problems: traffic, pair } = runTraffic(subject, run.label, run.link, seed, run.link !== CLEAN_LINK, run.over);
    // Delivery problems are other checks' business; a run that threw is this one's too.
    problems.push(...traffic.filter((t) => t.startsWith(`${run.label}: threw `)));
    if (pair === undefined) continue;
    const limits = new Map([[pair.serverNode.key, ["server", pair.server.mtu]], [pair.clientNode.key, ["client", pair.client.mtu]]] as const);
    let over = 0;
    let example = "";
    for (const r of pair.sim.trace) {
      const limit = limits.get(r.from);
      if (limit === undefined || r.size <= limit[1]) continue;
      if (over++ === 0) example = `the ${limit[0]} sent ${r.size} bytes at t=${r.t} ms, its mtu is ${limit[1]}`;
    }
    if (over > 0) {
      problems.push(`${run.label}: ${over} datagrams were larger than the endpoint mtu (${example}); declared datagramOverhead: server ${pair.serverPlugin.datagramOverhead ?? 0}, client ${pair.clientPlugin.datagramOverhead ?? 0}`);
    }
  }
  return capped(problems);
};

/** Messages on every channel flow both ways on a clean link: reliable ones exactly once (in order where ordered). */
export const checkDelivery: ContractCheck = (makePlugin, options) => {
  const subject = subjectOf(makePlugin, options);
  return capped(runTraffic(subject, "clean link", CLEAN_LINK, subject.options.seed ?? DEFAULT_SEED, false).problems);
};

/** The same under 10% loss, reordering and duplication. */
export const checkDeliveryUnderLoss: ContractCheck = (makePlugin, options) => {
  const subject = subjectOf(makePlugin, options);
  return capped(runTraffic(subject, "lossy link", LOSSY_LINK, subject.options.seed ?? DEFAULT_SEED, true).problems);
};

/** Number of untrusted datagrams injected by checkGarbage (split between the two endpoints). */
export const GARBAGE_DATAGRAMS = 2000;

interface Injection {
  kind: string;
  from: Address;
  bytes: Uint8Array;
}

/**
 * Untrusted bytes never throw: random and mutated datagrams injected at both endpoints do not
 * throw out of handleDatagram, and the connection still works after.
 *
 * Without `secure`, the engine has no authentication, so the injections never forge a packet
 * the core itself would act on from the real peer's address (a DISCONNECT, or a DATA header
 * with a fresh sequence number): mutations keep the core header of a packet already received
 * and garble what follows, which the plugin's layer must survive. With `secure`, anything goes.
 */
export const checkGarbage: ContractCheck = (makePlugin, options) => {
  const subject = subjectOf(makePlugin, options);
  const seed = subject.options.seed ?? DEFAULT_SEED;
  const secure = subject.options.secure === true;
  const problems: string[] = [];
  let pair: ContractPair;
  try {
    pair = makePair(subject, { latencyMs: 5 }, seed, { capture: true });
  } catch (err) {
    return [`connecting: threw ${describeError(err)}`];
  }
  const p = pair;
  const rng = new SeededRandom((seed ^ 0x6a7ba9e) >>> 0);
  const bytes = (n: number): Uint8Array => {
    const b = new Uint8Array(n);
    rng.fill(b);
    return b;
  };
  guarded(problems, "warming up", () => {
    // Real traffic on every channel (one fragmented message), so there is something to mutate.
    for (let ch = 0; ch < p.server.channelCount; ch++) {
      p.client.send(p.clientPeer, ch, makeMessage(0, ch, 0, ch === 0 ? 5000 : 100));
      p.server.send(p.serverPeer, ch, makeMessage(1, ch, 0, ch === 0 ? 5000 : 100));
    }
    p.runFor(500);
  });
  const baseline = { server: p.serverEvents.length, client: p.clientEvents.length };

  const build = (to: Side): Injection[] => {
    const peerAddress = to === "server" ? p.clientAddress : p.serverAddress;
    const real = p.captured.filter((c) => c.from !== to).map((c) => c.bytes);
    const out: Injection[] = [];
    const n = GARBAGE_DATAGRAMS / 2;
    const stranger = (): Address => ({ host: `192.0.2.${1 + rng.nextInt(250)}`, port: 1024 + rng.nextInt(60000) });
    for (let i = 0; i < n; i++) {
      const r = i % 4;
      if (r === 0 || real.length === 0) {
        // Random bytes of any length, from the peer or a stranger.
        const len = rng.nextInt(8) === 0 ? rng.nextInt(HEADER_SIZE + 1) : rng.nextInt(1400);
        out.push({ kind: "random", from: rng.nextInt(2) === 0 ? peerAddress : stranger(), bytes: bytes(len) });
      } else if (r === 1) {
        // A well-formed fixed header of any type and connection id from a stranger (connect requests reach the plugins).
        const b = bytes(HEADER_SIZE + rng.nextInt(1300));
        b[0] = VERSION_BYTE;
        b[1] = (b[1]! & 0xf0) | (1 + rng.nextInt(6));
        out.push({ kind: "random with a valid header, from a stranger", from: stranger(), bytes: b });
      } else {
        const src = real[rng.nextInt(real.length)]!;
        const type = packetTypeOf(src);
        // What the engine would act on in plaintext stays intact, unless the plugin is secure.
        const keep = secure ? HEADER_SIZE : type === PacketType.DATA ? DATA_HEADER_SIZE : HEADER_SIZE;
        let b: Uint8Array;
        if (r === 2) {
          b = new Uint8Array(keep + rng.nextInt(1300));
          b.set(src.subarray(0, Math.min(keep, src.length)));
          rng.fill(b.subarray(keep));
          if (secure && rng.nextInt(2) === 0) b[1] = (b[1]! & 0xf0) | (1 + rng.nextInt(6));
        } else {
          b = mutate(src, keep, rng);
        }
        out.push({ kind: r === 2 ? "a real header with a random body" : "a mutated real datagram", from: peerAddress, bytes: b });
      }
    }
    return out;
  };

  for (const to of ["server", "client"] as const) {
    const endpoint = to === "server" ? p.server : p.client;
    let thrown = 0;
    let running = true;
    const injections = build(to);
    for (let i = 0; i < injections.length && running; i++) {
      const inj = injections[i]!;
      try {
        endpoint.handleDatagram(p.sim.now, inj.from, inj.bytes);
      } catch (err) {
        if (thrown++ < 3) {
          const head = Array.from(inj.bytes.subarray(0, 24), (x) => x.toString(16).padStart(2, "0")).join("");
          problems.push(`the ${to}'s handleDatagram threw on ${inj.kind} (${inj.bytes.length} bytes: ${head}...): ${describeError(err)}`);
        }
      }
      if (i % 50 === 49) {
        try {
          p.runFor(1);
        } catch (err) {
          problems.push(`running the endpoints after garbage at the ${to}: threw ${describeError(err)}`);
          running = false;
        }
      }
    }
    if (thrown > 3) problems.push(`the ${to}'s handleDatagram threw on ${thrown} of ${injections.length} datagrams`);
  }

  guarded(problems, "running after the garbage", () => p.runFor(500));
  for (const side of ["server", "client"] as const) {
    const log = side === "server" ? p.serverEvents : p.clientEvents;
    for (const ev of log.slice(baseline[side])) {
      if (ev.type === "disconnected") problems.push(`after the garbage the ${side} got 'disconnected' (${ev.reason}${ev.detail ? `: ${ev.detail}` : ""})`);
    }
  }
  guarded(problems, "sending after the garbage", () => {
    if (p.clientPeer.state !== "connected" || p.serverPeer.state !== "connected") {
      problems.push(`after the garbage the connection is no longer up (client ${p.clientPeer.state}, server ${p.serverPeer.state})`);
      return;
    }
    let ch = 0;
    while (ch < p.server.channelCount && p.server.channelKind(ch) !== "reliable-ordered") ch++;
    if (ch === p.server.channelCount) ch = 0;
    const before = { server: p.messages("server", ch).length, client: p.messages("client", ch).length };
    p.client.send(p.clientPeer, ch, makeMessage(0, ch, 1, 3000));
    p.server.send(p.serverPeer, ch, makeMessage(1, ch, 1, 3000));
    const ok = p.runUntil(() => p.messages("server", ch).length > before.server && p.messages("client", ch).length > before.client, 5000);
    if (!ok) problems.push(`after the garbage a reliable message on channel ${ch} did not arrive both ways within 5 s`);
    else {
      const atServer = p.messages("server", ch).at(-1)!;
      const atClient = p.messages("client", ch).at(-1)!;
      if (!sameBytes(atServer, makeMessage(0, ch, 1, 3000)) || !sameBytes(atClient, makeMessage(1, ch, 1, 3000))) {
        problems.push("after the garbage a reliable message arrived with different bytes than sent");
      }
    }
  });
  return capped(problems);
};

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** 1 to 4 random edits (bit flip, byte set, truncate, extend, repeat a slice) at or after `keep`. */
function mutate(src: Uint8Array, keep: number, rng: SeededRandom): Uint8Array {
  let b = src.slice();
  const edits = 1 + rng.nextInt(4);
  for (let e = 0; e < edits; e++) {
    const room = b.length - keep;
    switch (rng.nextInt(5)) {
      case 0:
        if (room > 0) b[keep + rng.nextInt(room)]! ^= 1 << rng.nextInt(8);
        break;
      case 1:
        if (room > 0) b[keep + rng.nextInt(room)] = rng.nextInt(256);
        break;
      case 2:
        b = b.slice(0, keep + rng.nextInt(room + 1));
        break;
      case 3: {
        const ext = new Uint8Array(b.length + 1 + rng.nextInt(64));
        ext.set(b);
        const tail = ext.subarray(b.length);
        for (let i = 0; i < tail.length; i++) tail[i] = rng.nextInt(256);
        b = ext;
        break;
      }
      default:
        if (room > 1) {
          const start = keep + rng.nextInt(room);
          const len = 1 + rng.nextInt(Math.min(32, b.length - start));
          const ext = new Uint8Array(b.length + len);
          ext.set(b);
          ext.set(b.subarray(start, start + len), b.length);
          b = ext;
        }
    }
  }
  return b;
}

/** Hooks never throw for peers that end mid-flight: graceful disconnect, abrupt close, and a peer that vanishes. */
export const checkDisconnects: ContractCheck = (makePlugin, options) => {
  const subject = subjectOf(makePlugin, options);
  const seed = subject.options.seed ?? DEFAULT_SEED;
  const problems: string[] = [];
  const link: LinkConfig = subject.options.loss === false ? { latencyMs: 10 } : { latencyMs: 10, loss: 0.05, reorder: 0.05 };
  const scenarios: { label: string; end: (p: ContractPair) => void; expect: [Side, string][] }[] = [
    { label: "the client disconnects", end: (p) => p.client.disconnect(p.clientPeer), expect: [["client", "closed-locally"], ["server", "closed-by-peer"]] },
    { label: "the server disconnects", end: (p) => p.server.disconnect(p.serverPeer), expect: [["server", "closed-locally"], ["client", "closed-by-peer"]] },
    { label: "the client endpoint closes", end: (p) => p.client.close(), expect: [["client", "closed-locally"], ["server", "closed-by-peer"]] },
    {
      label: "the client vanishes",
      end: (p) => {
        p.sim.setLink(p.clientAddress, p.serverAddress, { loss: 1 });
        p.sim.setLink(p.serverAddress, p.clientAddress, { loss: 1 });
      },
      expect: [["client", "timeout"], ["server", "timeout"]],
    },
  ];
  for (const sc of scenarios) {
    guarded(problems, sc.label, () => {
      const p = makePair(subject, link, seed, { over: { idleTimeoutMs: 1500, keepaliveIntervalMs: 300, disconnectLingerMs: 400 } });
      const peers = [p.clientPeer, p.serverPeer] as const;
      const senders = [p.client, p.server] as const;
      const channels = p.server.channelCount;
      for (let tick = 0; tick < 40; tick++) {
        if (tick === 12) sc.end(p);
        for (let d = 0; d < 2; d++) {
          if (peers[d]!.state !== "connected") continue;
          for (let ch = 0; ch < channels; ch++) senders[d]!.send(peers[d]!, ch, makeMessage(d, ch, tick, tick === 8 && ch === 0 ? 50_000 : 400));
        }
        p.runFor(TICK_MS);
      }
      p.runFor(3000);
      for (const [side, reason] of sc.expect) {
        const ends = p.disconnects(side);
        if (ends.length !== 1) problems.push(`${sc.label}: the ${side} got ${ends.length} 'disconnected' events, expected 1`);
        else if (ends[0]!.reason !== reason) problems.push(`${sc.label}: the ${side} got 'disconnected' (${ends[0]!.reason}), expected '${reason}'`);
      }
    });
  }
  return capped(problems);
};

/** If the plugin implements nextDeadline, its value is a number (never NaN) and onTick at that time does not throw. */
export const checkDeadlines: ContractCheck = (makePlugin, options) => {
  const subject = subjectOf(makePlugin, options);
  const problems: string[] = [];
  let p: ContractPair;
  try {
    p = makePair(subject, { latencyMs: 5 }, subject.options.seed ?? DEFAULT_SEED);
  } catch (err) {
    return [`connecting: threw ${describeError(err)}`];
  }
  const sides = [["server", p.serverPlugin], ["client", p.clientPlugin]] as const;
  if (!sides.some(([, plugin]) => typeof plugin.nextDeadline === "function")) return [];
  const sample = (when: string): void => {
    for (const [side, plugin] of sides) {
      if (typeof plugin.nextDeadline !== "function") continue;
      let d: unknown;
      try {
        d = plugin.nextDeadline();
      } catch (err) {
        problems.push(`${when}: the ${side} plugin's nextDeadline threw ${describeError(err)}`);
        continue;
      }
      if (typeof d !== "number" || Number.isNaN(d)) {
        problems.push(`${when}: the ${side} plugin's nextDeadline returned ${typeof d === "number" ? "NaN" : typeof d}, expected a number`);
        continue;
      }
      if (d === Infinity) continue;
      const now = p.sim.now;
      // The endpoint folds d into pollTimeout, so the simulator calls handleTimeout (and onTick) at d.
      guarded(problems, `${when}: running to the ${side} plugin's deadline ${d} (now ${now})`, () => p.runFor(Math.max(0, Math.min(d, now + 60_000) - now)));
    }
  };
  guarded(problems, "deadlines", () => {
    sample("after connecting");
    for (let tick = 0; tick < 10; tick++) {
      for (let ch = 0; ch < p.server.channelCount; ch++) {
        p.client.send(p.clientPeer, ch, makeMessage(0, ch, tick, tick === 3 ? 20_000 : 300));
        p.server.send(p.serverPeer, ch, makeMessage(1, ch, tick, 300));
      }
      sample(`during traffic (tick ${tick})`);
      p.runFor(TICK_MS);
    }
    p.runFor(1000);
    sample("when idle");
    p.client.disconnect(p.clientPeer);
    sample("right after a disconnect");
    p.runFor(2000);
    sample("after the disconnect");
  });
  return capped(problems);
};

/** The same seed gives the same simulator trace (and the same deliveries) with the plugin. */
export const checkDeterminism: ContractCheck = (makePlugin, options) => {
  const subject = subjectOf(makePlugin, options);
  const seed = subject.options.seed ?? DEFAULT_SEED;
  const link = subject.options.loss === false ? CLEAN_LINK : LOSSY_LINK;
  const runs = [0, 1].map(() => runTraffic(subject, "determinism", link, seed, link !== CLEAN_LINK));
  const [a, b] = runs as [TrafficResult, TrafficResult];
  if (a.pair === undefined || b.pair === undefined) return capped([...a.problems, ...b.problems]);
  const problems: string[] = [];
  const ha = a.pair.sim.traceHash();
  const hb = b.pair.sim.traceHash();
  if (ha !== hb) {
    const ta = a.pair.sim.trace;
    const tb = b.pair.sim.trace;
    let i = 0;
    while (i < ta.length && i < tb.length && JSON.stringify(ta[i]) === JSON.stringify(tb[i])) i++;
    problems.push(`two runs with seed ${seed} gave different traces (${ha} vs ${hb}); first difference at datagram ${i}: ${JSON.stringify(ta[i])} vs ${JSON.stringify(tb[i])}. Use ctx.random and ctx.now, never Math.random or a clock`);
  }
  if (a.deliveries.join() !== b.deliveries.join()) problems.push(`two runs with seed ${seed} delivered different messages`);
  return problems;
};

/** Every check, in the order pluginContract runs them. */
export const CONTRACT_CHECKS: readonly { name: ContractCheckName; title: string; run: ContractCheck }[] = [
  { name: "identity", title: "has a non-empty name and a datagramOverhead the host accepts", run: checkIdentity },
  { name: "registration", title: "registering it twice on one endpoint throws FASTNET_INVALID_PLUGIN", run: checkRegistration },
  { name: "mtu", title: "no datagram it sends is larger than the endpoint mtu", run: checkMtu },
  { name: "delivery", title: "messages on every channel flow both ways on a clean link, reliable ones exactly once and in order", run: checkDelivery },
  { name: "delivery-under-loss", title: "messages flow both ways under 10% loss, reordering and duplication, reliable ones exactly once and in order", run: checkDeliveryUnderLoss },
  { name: "garbage", title: `${GARBAGE_DATAGRAMS} random and mutated datagrams never throw and the connection still works after`, run: checkGarbage },
  { name: "disconnect", title: "hooks never throw when peers disconnect mid-flight", run: checkDisconnects },
  { name: "deadlines", title: "nextDeadline is a number and onTick at that time does not throw", run: checkDeadlines },
  { name: "determinism", title: "the same seed gives the same simulator trace", run: checkDeterminism },
];

function skipped(name: ContractCheckName, options: ContractOptions): boolean {
  return (options.skip ?? []).includes(name) || (name === "delivery-under-loss" && options.loss === false);
}

/** Runs every (not skipped) check; returns the problems by check name. */
export function runPluginContract(makePlugin: () => Plugin, options: ContractOptions = {}): Partial<Record<ContractCheckName, string[]>> {
  const out: Partial<Record<ContractCheckName, string[]>> = {};
  for (const c of CONTRACT_CHECKS) if (!skipped(c.name, options)) out[c.name] = c.run(makePlugin, options);
  return out;
}

/**
 * Registers a describe block with one test per contract check. Call it at the top level of a
 * plugin package's test file:
 *
 * ```ts
 * import { pluginContract } from "@fastnet/core/testing";
 * pluginContract(() => fec({ groupSize: 8 }), { stack: (p) => [p] });
 * ```
 */
export function pluginContract(makePlugin: () => Plugin, options: ContractOptions = {}): void {
  let label = options.name;
  if (label === undefined) {
    try {
      label = String(makePlugin().name);
    } catch {
      label = "(plugin factory threw)";
    }
  }
  describe(`plugin contract: ${label}`, () => {
    for (const c of CONTRACT_CHECKS) {
      if (skipped(c.name, options)) test.skip(c.title, () => {});
      else test(c.title, () => expect(c.run(makePlugin, options)).toEqual([]));
    }
  });
}
