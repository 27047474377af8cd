/**
 * Same-run RTT comparison over real UDP on 127.0.0.1: raw Bun.udpSocket vs
 * fastnet core (unencrypted, unreliable and reliable-ordered channels), each
 * in normal and spin mode. The echo side is a separate Bun process. Rounds of
 * every configuration are interleaved (A B C ... A B C ...) so machine noise
 * hits them alike; percentiles pool all rounds. 64 B ping-pong.
 *
 * Run: `bun packages/core/bench/rtt.ts [--pings 4000] [--rounds 5] [--quick]`
 */
import { Channel, connect, listen } from "../src/index.ts";

type Transport = "raw" | "fastnet-unreliable" | "fastnet-reliable";
const SIZE = 64;

const argv = process.argv.slice(2);
const opt = (name: string, def: number): number => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? Number(argv[i + 1]) : def;
};

if (argv[0] === "--echo") await echo(argv[1] as Transport, argv[2] === "spin");

async function echo(transport: Transport, spin: boolean): Promise<void> {
  setTimeout(() => process.exit(2), 300_000).unref();
  if (transport === "raw") {
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
    if (spin) {
      const loop = (): void => void setImmediate(loop);
      loop();
    }
    process.stdout.write(`${socket.port}\n`);
    return;
  }
  const server = await listen({ host: "127.0.0.1", port: 0, insecurePlaintext: true, spin });
  process.stdout.write(`${server.address.port}\n`);
  for await (const ev of server) if (ev.type === "message") server.send(ev.peer, ev.channel, ev.data);
}

async function spawnEcho(transport: Transport, spin: boolean): Promise<{ port: number; kill: () => Promise<void> }> {
  const child = Bun.spawn([process.execPath, import.meta.path, "--echo", transport, spin ? "spin" : "normal"], { stdout: "pipe", stderr: "inherit" });
  const reader = child.stdout.getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("echo process exited early");
    text += new TextDecoder().decode(value);
  }
  return { port: Number(text.trim()), kill: async () => { child.kill(); await child.exited; } };
}

interface Pinger {
  ping(): Promise<number>;
  close(): Promise<void>;
}

async function rawPinger(port: number, spin: boolean): Promise<Pinger> {
  let resolve: (() => void) | undefined;
  const socket = await Bun.udpSocket({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      data() {
        const r = resolve;
        resolve = undefined;
        r?.();
      },
      error() {},
    },
  });
  let spinning = spin;
  if (spin) {
    const loop = (): void => void (spinning && setImmediate(loop));
    loop();
  }
  const payload = new Uint8Array(SIZE);
  return {
    ping: () => new Promise<number>((done) => {
      const t0 = Bun.nanoseconds();
      const timer = setTimeout(() => { resolve = undefined; done(NaN); }, 200);
      resolve = () => { clearTimeout(timer); done((Bun.nanoseconds() - t0) / 1000); };
      socket.send(payload, port, "127.0.0.1");
    }),
    close: async () => { spinning = false; socket.close(); },
  };
}

async function fastnetPinger(port: number, spin: boolean, channel: number): Promise<Pinger> {
  const client = await connect({ host: "127.0.0.1", port }, { insecurePlaintext: true, spin });
  const payload = new Uint8Array(SIZE);
  return {
    ping: async () => {
      const t0 = Bun.nanoseconds();
      client.send(channel, payload);
      for (;;) {
        const ev = await client.next(200);
        if (ev === undefined) return NaN;
        if (ev.type === "message") return (Bun.nanoseconds() - t0) / 1000;
      }
    },
    close: () => client.close(),
  };
}

export interface RttRow {
  transport: Transport;
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

export async function benchRtt(pings = 4000, rounds = 5, warmup = 500): Promise<RttRow[]> {
  const configs: { transport: Transport; mode: "normal" | "spin" }[] = [];
  for (const mode of ["normal", "spin"] as const) {
    for (const transport of ["raw", "fastnet-unreliable", "fastnet-reliable"] as const) configs.push({ transport, mode });
  }
  const samples = configs.map(() => [] as number[]);
  const lost = configs.map(() => 0);
  for (let r = 0; r < rounds; r++) {
    for (let c = 0; c < configs.length; c++) {
      const { transport, mode } = configs[c]!;
      const spin = mode === "spin";
      const echoProc = await spawnEcho(transport === "raw" ? "raw" : transport, spin);
      const pinger = transport === "raw" ? await rawPinger(echoProc.port, spin)
        : await fastnetPinger(echoProc.port, spin, transport === "fastnet-reliable" ? Channel.Reliable : Channel.Unreliable);
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
  return configs.map(({ transport, mode }, c) => {
    const s = samples[c]!.sort((a, b) => a - b);
    return { transport, mode, samples: s.length, lost: lost[c]!, p50: pct(s, 50), p99: pct(s, 99), p999: pct(s, 99.9), max: s[s.length - 1]! };
  });
}

export function formatRtt(rows: RttRow[]): string {
  const lines = ["transport           mode    samples  p50 µs  p99 µs  p99.9 µs   p50/raw  p99/raw"];
  for (const r of rows) {
    const raw = rows.find((x) => x.transport === "raw" && x.mode === r.mode)!;
    lines.push(
      `${r.transport.padEnd(18)}  ${r.mode.padEnd(6)}  ${String(r.samples).padStart(7)}  ${r.p50.toFixed(1).padStart(6)}  ${r.p99.toFixed(1).padStart(6)}  ${r.p999.toFixed(1).padStart(8)}  ${(r.p50 / raw.p50).toFixed(2).padStart(7)}x  ${(r.p99 / raw.p99).toFixed(2).padStart(6)}x`,
    );
  }
  return lines.join("\n");
}

if (import.meta.main && argv[0] !== "--echo") {
  const quick = argv.includes("--quick");
  const rows = await benchRtt(opt("pings", quick ? 1000 : 4000), opt("rounds", quick ? 2 : 5), quick ? 200 : 500);
  console.log(`RTT, 64 B ping-pong over 127.0.0.1, echo in a separate process, ${opt("rounds", quick ? 2 : 5)} interleaved rounds, Bun ${Bun.version}`);
  console.log(formatRtt(rows));
}
