/**
 * Echo server and measuring client logic, shared by server.ts, client.ts,
 * demo.ts and the end-to-end test. Encrypted: TLS 1.3 handshake, then
 * ChaCha20-Poly1305 datagrams (the `fastnet` package). The server sends every message back on
 * the channel it came from; the client sends numbered, timestamped probes on
 * every channel and reports RTT percentiles and delivery per channel.
 */
import { Channel, connect, createServer, type CreateServerOptions, type SecureClient, type SecureConnectOptions, type SecureServer } from "fastnet";

export const CHANNELS = [
  { index: Channel.Reliable, name: "reliable-ordered", reliable: true, ordered: true },
  { index: Channel.Unreliable, name: "unreliable", reliable: false, ordered: false },
  { index: Channel.ReliableUnordered, name: "reliable-unordered", reliable: true, ordered: false },
  { index: Channel.Sequenced, name: "sequenced", reliable: false, ordered: true },
] as const;

/** Runs an echo loop on `server` until it is closed. Returns the number of messages echoed. */
export async function serveEcho(server: SecureServer, log: (line: string) => void = () => {}): Promise<number> {
  let echoed = 0;
  for await (const ev of server) {
    if (ev.type === "message") {
      if (ev.peer.state === "connected") {
        server.send(ev.peer, ev.channel, ev.data);
        echoed++;
      }
    } else if (ev.type === "connected") {
      log(`+ peer ${ev.peer.id} connected from ${ev.peer.address.host}:${ev.peer.address.port}`);
    } else {
      log(`- peer ${ev.peer.id} disconnected (${ev.reason})`);
    }
  }
  return echoed;
}

export async function startEchoServer(options: CreateServerOptions, log?: (line: string) => void): Promise<{ server: SecureServer; done: Promise<number> }> {
  const server = await createServer(options);
  return { server, done: serveEcho(server, log) };
}

export interface ChannelReport {
  channel: string;
  sent: number;
  received: number;
  lost: number;
  duplicates: number;
  outOfOrder: number;
  p50Us: number;
  p99Us: number;
  maxUs: number;
}

export interface ClientReport {
  rttMs: number;
  channels: ChannelReport[];
  elapsedMs: number;
}

export interface EchoClientOptions extends SecureConnectOptions {
  /** Probes per channel. */
  count?: number;
  /** Bytes per probe (>= 12). */
  size?: number;
  /** Probes in flight per channel at once. */
  window?: number;
  /** Give up waiting for echoes after this, ms. */
  timeoutMs?: number;
}

/** Sends `count` probes on every channel (each carrying its number and send time) and measures the echoes. */
export async function runEchoClient(to: string, options: EchoClientOptions = {}): Promise<ClientReport> {
  const { count = 1000, size = 64, window = 8, timeoutMs = 10_000, ...connectOptions } = options;
  if (size < 12) throw new Error("size must be >= 12 bytes");
  const client = await connect(to, connectOptions);
  try {
    return await measure(client, count, size, window, timeoutMs);
  } finally {
    await client.disconnect();
  }
}

async function measure(client: SecureClient, count: number, size: number, window: number, timeoutMs: number): Promise<ClientReport> {
  const start = performance.now();
  const state = CHANNELS.map(() => ({ next: 0, inFlight: 0, rtts: [] as number[], seen: new Set<number>(), dupes: 0, ooo: 0, last: -1 }));
  const buf = new Uint8Array(size);
  const view = new DataView(buf.buffer);
  const pump = (ch: number): void => {
    const s = state[ch]!;
    // Sequenced keeps only the newest unsent message: probe it one at a time or the burst supersedes itself.
    const limit = CHANNELS[ch]!.index === Channel.Sequenced ? 1 : window;
    while (s.inFlight < limit && s.next < count) {
      view.setUint32(0, s.next);
      view.setFloat64(4, performance.now());
      client.send(CHANNELS[ch]!.index, buf);
      s.next++;
      s.inFlight++;
    }
  };
  for (let ch = 0; ch < CHANNELS.length; ch++) pump(ch);
  const deadline = start + timeoutMs;
  const unreliableGrace = 500;
  let lastProgress = performance.now();
  while (performance.now() < deadline) {
    const done = state.every((s, ch) => s.next >= count && (s.inFlight === 0 || (!CHANNELS[ch]!.reliable && performance.now() - lastProgress > unreliableGrace)));
    if (done) break;
    const ev = await client.next(20);
    if (ev === undefined) {
      // Unreliable probes can be lost for good: keep the pipeline moving.
      for (let ch = 0; ch < CHANNELS.length; ch++) {
        if (!CHANNELS[ch]!.reliable) {
          state[ch]!.inFlight = 0;
          pump(ch);
        }
      }
      continue;
    }
    if (ev.type === "disconnected") throw new Error(`server went away: ${ev.reason}`);
    if (ev.type !== "message") continue;
    const channel = ev.channel;
    const ch = CHANNELS.findIndex((c) => c.index === channel);
    const s = state[ch];
    if (s === undefined || ev.data.length < 12) continue;
    const dv = new DataView(ev.data.buffer, ev.data.byteOffset, ev.data.byteLength);
    const n = dv.getUint32(0);
    const sentAt = dv.getFloat64(4);
    if (s.seen.has(n)) s.dupes++;
    else {
      s.seen.add(n);
      s.rtts.push((performance.now() - sentAt) * 1000);
    }
    if (n < s.last) s.ooo++;
    s.last = Math.max(s.last, n);
    s.inFlight = Math.max(0, s.inFlight - 1);
    lastProgress = performance.now();
    pump(ch);
  }
  return {
    rttMs: client.rttMs,
    elapsedMs: performance.now() - start,
    channels: state.map((s, ch) => {
      const sorted = s.rtts.slice().sort((a, b) => a - b);
      const pct = (p: number): number => (sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!);
      return {
        channel: CHANNELS[ch]!.name,
        sent: s.next,
        received: s.seen.size,
        lost: s.next - s.seen.size,
        duplicates: s.dupes,
        outOfOrder: s.ooo,
        p50Us: pct(50),
        p99Us: pct(99),
        maxUs: sorted.length ? sorted[sorted.length - 1]! : NaN,
      };
    }),
  };
}

export function formatReport(r: ClientReport): string {
  const rows = [["channel", "sent", "echoed", "lost", "dupes", "out-of-order", "rtt p50 µs", "rtt p99 µs", "max µs"]];
  for (const c of r.channels) {
    rows.push([c.channel, String(c.sent), String(c.received), String(c.lost), String(c.duplicates), String(c.outOfOrder),
      c.p50Us.toFixed(0), c.p99Us.toFixed(0), c.maxUs.toFixed(0)]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  const lines = rows.map((row) => row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join("  "));
  lines.splice(1, 0, widths.map((w) => "-".repeat(w)).join("  "));
  lines.push("", `smoothed RTT ${r.rttMs.toFixed(3)} ms, ${r.elapsedMs.toFixed(0)} ms in all`);
  return lines.join("\n");
}
