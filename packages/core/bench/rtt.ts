/**
 * Same-run RTT comparison over real UDP on 127.0.0.1, 64 B ping-pong, the
 * echo side in a separate Bun process. A reusable harness: a bench file
 * lists transports (how to start an echo, how to ping it) and calls
 * `runRttMain(import.meta.path, transports)`; the file re-runs itself with
 * `--echo <transport> <mode>` for the echo process. Rounds of every
 * configuration are interleaved (A B C ... A B C ...) so machine noise hits
 * them alike; percentiles pool all rounds. This file's own transports: raw
 * Bun.udpSocket and fastnet core (unencrypted) unreliable / reliable-ordered,
 * each in normal and spin mode.
 *
 * Run: `bun packages/core/bench/rtt.ts [--pings 4000] [--rounds 5] [--quick]`
 */
import { Channel, connect, listen, type FastnetEvent } from "../src/index.ts";

export const SIZE = 64;

export interface Pinger {
  /** One round trip, µs; NaN when no reply came within 200 ms. */
  ping(): Promise<number>;
  close(): Promise<void>;
}

export interface RttTransport {
  name: string;
  /** The baseline the ratios divide by (one per mode). */
  baseline?: boolean;
  /** Runs in the echo process: start echoing, return the port to print. */
  echo(spin: boolean): Promise<number>;
  pinger(port: number, spin: boolean): Promise<Pinger>;
}

const argv = process.argv.slice(2);
const opt = (name: string, def: number): number => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? Number(argv[i + 1]) : def;
};

async function spawnEcho(modulePath: string, transport: string, spin: boolean): Promise<{ port: number; kill: () => Promise<void> }> {
  // env passed explicitly: Bun.spawn does not see process.env changes made at run time.
  const child = Bun.spawn([process.execPath, modulePath, "--echo", transport, spin ? "spin" : "normal"], { stdout: "pipe", stderr: "inherit", env: { ...process.env } });
  const reader = child.stdout.getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`echo process for ${transport} exited early`);
    text += new TextDecoder().decode(value);
  }
  return { port: Number(text.trim()), kill: async () => { child.kill(); await child.exited; } };
}

function keepAwake(): () => void {
  let spinning = true;
  const loop = (): void => void (spinning && setImmediate(loop));
  loop();
  return () => void (spinning = false);
}

export const rawTransport: RttTransport = {
  name: "raw",
  baseline: true,
  async echo(spin) {
    const socket = await Bun.udpSocket({
      hostname: "127.0.0.1",
      port: 0,
      socket: {
        data(s, data, port, host) {
          s.send(data, port, host);
        },
        error() {},
      },
    });
    if (spin) keepAwake();
    return socket.port;
  },
  async pinger(port, spin) {
    const payload = new Uint8Array(SIZE);
    const p = makePing(() => socket.send(payload, port, "127.0.0.1"));
    const socket = await Bun.udpSocket({
      hostname: "127.0.0.1",
      port: 0,
      socket: {
        data() {
          p.reply();
        },
        error() {},
      },
    });
    const stop = spin ? keepAwake() : () => {};
    return {
      ping: p.ping,
      close: async () => { stop(); socket.close(); },
    };
  },
};

/**
 * One outstanding ping at a time: `ping()` sends and resolves with the RTT in µs (NaN after 200 ms), `reply()`
 * is called from the transport's receive callback. Shared by every transport so all pay the same timer cost.
 */
export function makePing(send: () => void): { ping: () => Promise<number>; reply: () => void } {
  let resolve: (() => void) | undefined;
  return {
    ping: () =>
      new Promise<number>((done) => {
        const t0 = Bun.nanoseconds();
        const timer = setTimeout(() => {
          resolve = undefined;
          done(NaN);
        }, 200);
        resolve = () => {
          clearTimeout(timer);
          done((Bun.nanoseconds() - t0) / 1000);
        };
        send();
      }),
    reply: () => {
      const r = resolve;
      resolve = undefined;
      r?.();
    },
  };
}

/** What the RTT harness needs of a fastnet client (core Client or fastnet SecureClient). */
interface PingableClient {
  send(channel: number, data: Uint8Array): number;
  onEvent: ((ev: FastnetEvent) => void) | undefined;
  close(): Promise<void>;
}

/**
 * Pings over anything with fastnet's client shape, through its `onEvent` handler: the same callback shape
 * as the raw transport's socket handler (the async `next()` adds a promise and a timer per ping).
 */
export function clientPinger(client: PingableClient, channel: number): Pinger {
  const payload = new Uint8Array(SIZE);
  const p = makePing(() => client.send(channel, payload));
  client.onEvent = (ev) => {
    if (ev.type === "message") p.reply();
  };
  return { ping: p.ping, close: () => client.close() };
}

/** Echoes every message of a fastnet server (core or secure) back on its channel, from its `onEvent` handler. */
export function echoAll(server: {
  onEvent: ((ev: FastnetEvent) => void) | undefined;
  send(peer: FastnetEvent["peer"], channel: number, data: Uint8Array): number;
}): void {
  server.onEvent = (ev) => {
    if (ev.type === "message") server.send(ev.peer, ev.channel, ev.data);
  };
}

function coreTransport(name: string, channel: number): RttTransport {
  return {
    name,
    async echo(spin) {
      const server = await listen({ host: "127.0.0.1", port: 0, insecurePlaintext: true, spin });
      echoAll(server);
      return server.address.port;
    },
    async pinger(port, spin) {
      return clientPinger(await connect({ host: "127.0.0.1", port }, { insecurePlaintext: true, spin }), channel);
    },
  };
}

export const coreTransports: RttTransport[] = [
  rawTransport,
  coreTransport("fastnet-unreliable", Channel.Unreliable),
  coreTransport("fastnet-reliable", Channel.Reliable),
];

export interface RttRow {
  transport: string;
  mode: "normal" | "spin";
  samples: number;
  lost: number;
  p50: number;
  p99: number;
  p999: number;
  max: number;
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export async function benchRtt(modulePath: string, transports: RttTransport[], pings = 4000, rounds = 5, warmup = 500): Promise<RttRow[]> {
  const configs: { t: RttTransport; mode: "normal" | "spin" }[] = [];
  for (const mode of ["normal", "spin"] as const) for (const t of transports) configs.push({ t, mode });
  const samples = configs.map(() => [] as number[]);
  const lost = configs.map(() => 0);
  for (let r = 0; r < rounds; r++) {
    for (let c = 0; c < configs.length; c++) {
      const { t, mode } = configs[c]!;
      const spin = mode === "spin";
      const echoProc = await spawnEcho(modulePath, t.name, spin);
      const pinger = await t.pinger(echoProc.port, spin);
      for (let i = 0; i < warmup; i++) await pinger.ping();
      for (let i = 0; i < pings; i++) {
        const us = await pinger.ping();
        if (Number.isNaN(us)) lost[c]!++;
        else samples[c]!.push(us);
      }
      await pinger.close();
      await echoProc.kill();
    }
  }
  return configs.map(({ t, mode }, c) => {
    const s = samples[c]!.sort((a, b) => a - b);
    return { transport: t.name, mode, samples: s.length, lost: lost[c]!, p50: pct(s, 50), p99: pct(s, 99), p999: pct(s, 99.9), max: s[s.length - 1]! };
  });
}

/** Entry point of a bench file: echo process when re-run with --echo, else the interleaved bench. */
export async function runRttMain(modulePath: string, transports: RttTransport[], title: string): Promise<RttRow[] | undefined> {
  if (argv[0] === "--echo") {
    const t = transports.find((x) => x.name === argv[1]);
    if (t === undefined) throw new Error(`unknown transport ${argv[1]}`);
    setTimeout(() => process.exit(2), 600_000).unref();
    process.stdout.write(`${await t.echo(argv[2] === "spin")}\n`);
    return undefined;
  }
  const quick = argv.includes("--quick");
  const rounds = opt("rounds", quick ? 2 : 5);
  const rows = await benchRtt(modulePath, transports, opt("pings", quick ? 1000 : 4000), rounds, quick ? 200 : 500);
  console.log(`${title}: 64 B ping-pong over 127.0.0.1, echo in a separate process, ${rounds} interleaved rounds, Bun ${Bun.version}`);
  console.log(formatRtt(rows));
  return rows;
}

export function formatRtt(rows: RttRow[]): string {
  const lines = ["transport           mode    samples  p50 µs  p99 µs  p99.9 µs   p50/raw  p99/raw"];
  for (const r of rows) {
    const raw = rows.find((x) => x.transport === "raw" && x.mode === r.mode) ?? r;
    lines.push(
      `${r.transport.padEnd(18)}  ${r.mode.padEnd(6)}  ${String(r.samples).padStart(7)}  ${r.p50.toFixed(1).padStart(6)}  ${r.p99.toFixed(1).padStart(6)}  ${r.p999.toFixed(1).padStart(8)}  ${(r.p50 / raw.p50).toFixed(2).padStart(7)}x  ${(r.p99 / raw.p99).toFixed(2).padStart(6)}x`,
    );
  }
  return lines.join("\n");
}

if (import.meta.main) await runRttMain(import.meta.path, coreTransports, "RTT, raw Bun.udpSocket vs fastnet core (unencrypted)");
