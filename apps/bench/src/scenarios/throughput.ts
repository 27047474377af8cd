/**
 * Scenario 2: one-way throughput. A sender process sends messages of 64 B or
 * 1200 B as fast as the transport accepts them (respecting its backpressure:
 * EAGAIN/drain for raw UDP, the send queue for fastnet, bufferedAmount for
 * WebSocket); a receiver process counts what arrives. Messages/s and payload
 * MB/s are measured at the receiver over a fixed window after a warm-up;
 * loss = messages sent but never received (UDP receive buffer overflow,
 * unreliable messages that expired in fastnet's queue).
 *
 * "unpacked": one message per datagram (fastnet: a one-message-per-packet
 * scheduler plugin; WebSocket: one frame per message). "packed": many
 * messages per datagram up to 1200 B (fastnet: the engine's own packing;
 * raw UDP and WebSocket: the application concatenates length-prefixed
 * messages, as a game would). At 1200 B a message fills a datagram, so both
 * modes send one per datagram. fastnet runs with mtu 1400 here so that a
 * 1200 B message is one datagram (loopback MTU is 64 KiB).
 */
import { type RunContext, pairPinning, wanted } from "../context.ts";
import { msgTransport } from "../msg.ts";
import { Child, emit, emitAndExit, killAll, spawnServer, stdinLines, tick } from "../proc.ts";
import { emptyRecord, type BenchRecord } from "../schema.ts";
import { round } from "../stats.ts";
import { ratioRounded } from "./rtt.ts";
import { setSocketBuffer } from "../../../../packages/core/src/driver/sockopt.ts";

export const TP_TRANSPORTS = ["raw-udp", "fastnet-unreliable", "fastnet-reliable", "fastnet-enc-unreliable", "fastnet-enc-reliable", "websocket"];
const TP_BASELINE = "raw-udp";
const PACK_TARGET = 1200;
const FASTNET_MTU = 1400;

/** Messages per app-packed datagram/frame: u16 length + payload each, up to 1200 B. */
export function perPack(size: number): number {
  return Math.max(1, Math.floor(PACK_TARGET / (size + 2)));
}

/** Builds an app-packed buffer of `k` messages of `size` bytes. */
export function buildPack(size: number, k: number): Uint8Array {
  const buf = new Uint8Array(k * (size + 2));
  for (let i = 0; i < k; i++) {
    const off = i * (size + 2);
    buf[off] = size >> 8;
    buf[off + 1] = size & 0xff;
    buf.fill(7, off + 2, off + 2 + size);
  }
  return buf;
}

/** Counts the messages of an app-packed buffer (walks the length prefixes, as a receiver must). */
export function countPack(data: Uint8Array): number {
  let n = 0;
  let off = 0;
  while (off + 2 <= data.length) {
    off += 2 + ((data[off]! << 8) | data[off + 1]!);
    n++;
  }
  return n;
}

const isFastnet = (t: string): boolean => t.startsWith("fastnet");

/** Worker: receive, count, report on "report". Args: transport size packing warmMs measureMs. */
export async function tpReceiver(args: string[]): Promise<void> {
  const [name, , packing, warmS, measureS] = args;
  const warm = Number(warmS);
  const measure = Number(measureS);
  const appPacked = packing === "packed" && !isFastnet(name!);
  let total = 0;
  let first = -1;
  let inWindow = 0;
  let windowEnd = -1;
  const server = await msgTransport(name!).serve({
    mtu: FASTNET_MTU,
    onMessage(data) {
      const n = appPacked ? countPack(data) : 1;
      total += n;
      const now = performance.now();
      if (first < 0) first = now;
      const t = now - first;
      if (t >= warm && t < warm + measure) {
        inWindow += n;
        windowEnd = t;
      }
    },
  });
  emit({ port: server.port });
  for await (const line of stdinLines()) {
    if (line === "report") {
      const windowMs = first < 0 ? 0 : Math.min(measure, Math.max(0, (windowEnd < 0 ? 0 : windowEnd) - warm));
      await emitAndExit({ total, inWindow, windowMs, datagrams: server.datagramsIn() });
    }
  }
}

/** Worker: send as fast as accepted for durationMs, drain what is owed (reliable), print the count. Args: transport port size packing durationMs. */
export async function tpSender(args: string[]): Promise<void> {
  const [name, portS, sizeS, packing, durS] = args;
  const port = Number(portS);
  const size = Number(sizeS);
  const duration = Number(durS);
  if (name === "raw-udp") return rawSender(port, size, packing === "packed", duration);
  const fastnet = isFastnet(name!);
  const appPacked = packing === "packed" && !fastnet;
  const k = appPacked ? perPack(size) : 1;
  const payload = appPacked ? buildPack(size, k) : new Uint8Array(size).fill(7);
  const client = await msgTransport(name!).connect(port, { mtu: FASTNET_MTU, onePerPacket: fastnet && packing === "unpacked", onMessage() {} });
  let sent = 0;
  const end = performance.now() + duration;
  while (performance.now() < end) {
    for (let b = 0; b < 16 && client.canSend(); b++) {
      for (let i = 0; i < 64; i++) client.send(payload);
      sent += 64 * k;
    }
    await tick();
  }
  // Reliable transports: what is queued or in flight is still delivered; give it up to 3 s.
  const drainEnd = performance.now() + 3000;
  while (client.owed() > 0 && performance.now() < drainEnd) await Bun.sleep(5);
  await emitAndExit({ sent, owed: client.owed() });
}

async function rawSender(port: number, size: number, packed: boolean, duration: number): Promise<void> {
  const k = packed ? perPack(size) : 1;
  const payload = packed ? buildPack(size, k) : new Uint8Array(size).fill(7);
  let drained: (() => void) | undefined;
  const socket = await Bun.udpSocket({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      drain() {
        const d = drained;
        drained = undefined;
        d?.();
      },
      error() {},
    },
  });
  setSocketBuffer((socket as unknown as { fd: unknown }).fd, "send", 8 << 20);
  const BATCH = 64;
  const flat: (Uint8Array | number | string)[] = [];
  for (let i = 0; i < BATCH; i++) flat.push(payload, port, "127.0.0.1");
  let sent = 0;
  const end = performance.now() + duration;
  while (performance.now() < end) {
    let n = BATCH;
    try {
      n = socket.sendMany(flat as never);
    } catch {
      n = 0;
    }
    sent += n * k;
    if (n < BATCH) {
      // Kernel buffer full: wait for drain (bounded, in case it was missed).
      await new Promise<void>((resolve) => {
        drained = resolve;
        setTimeout(resolve, 2);
      });
    } else {
      await tick();
    }
  }
  await emitAndExit({ sent, owed: 0 });
}

export async function runThroughput(ctx: RunContext): Promise<BenchRecord[]> {
  const rounds = ctx.rounds ?? (ctx.quick ? 1 : 3);
  const warm = ctx.quick ? 150 : 300;
  const measure = ctx.quick ? 400 : 700;
  const pin = pairPinning();
  interface Cfg { transport: string; size: number; packing: "unpacked" | "packed"; msgs: number; ms: number; sent: number; received: number; rounds: number; perRound: number[]; failures: string[]; notes: Set<string> }
  const configs: Cfg[] = [];
  for (const size of [64, 1200]) {
    for (const packing of ["unpacked", "packed"] as const) {
      for (const t of TP_TRANSPORTS) if (wanted(ctx, t, TP_BASELINE)) configs.push({ transport: t, size, packing, msgs: 0, ms: 0, sent: 0, received: 0, rounds: 0, perRound: [], failures: [], notes: new Set() });
    }
  }
  ctx.log(`throughput: ${configs.length} configurations x ${rounds} interleaved rounds, ${measure} ms window after ${warm} ms`);
  for (let r = 0; r < rounds; r++) {
    for (const c of configs) {
      let recv: Child | undefined;
      let send: Child | undefined;
      try {
        const started = await spawnServer(["tp-recv", c.transport, c.size, c.packing, warm, measure], pin.server);
        recv = started.child;
        const port = started.port;
        send = Child.spawn(["tp-send", c.transport, port, c.size, c.packing, warm + measure + 300], pin.client);
        const s = await send.json<{ sent: number; owed: number }>(60_000, "the sent count");
        await Bun.sleep(200);
        recv.send("report");
        const res = await recv.json<{ total: number; inWindow: number; windowMs: number }>(10_000, "the receive report");
        if (res.windowMs < measure * 0.9) c.notes.add("receiver window cut short");
        if (s.owed > 0) c.notes.add(`${s.owed} B still owed after the 3 s drain`);
        if (res.windowMs > 0) c.perRound.push((res.inWindow / res.windowMs) * 1000);
        c.msgs += res.inWindow;
        c.ms += res.windowMs;
        c.sent += s.sent;
        c.received += res.total;
        c.rounds++;
      } catch (err) {
        c.failures.push(err instanceof Error ? err.message : String(err));
        ctx.log(`throughput: ${c.transport} ${c.packing} ${c.size} B round ${r + 1} failed: ${c.failures[c.failures.length - 1]}`);
      } finally {
        await killAll([send, recv]);
      }
    }
    ctx.log(`throughput: round ${r + 1}/${rounds} done`);
  }
  const records = configs.map((c) => {
    const rec = emptyRecord("throughput", c.transport, `${c.packing}-${c.size}B`, pin.name, c.size);
    rec.rounds = c.rounds;
    if (c.ms > 0) {
      const mps = (c.msgs / c.ms) * 1000;
      rec.msgs_per_s = Math.round(mps);
      rec.mb_per_s = round((mps * c.size) / 1e6, 2);
    } else {
      rec.msgs_per_s = 0;
      rec.mb_per_s = 0;
    }
    rec.lost = Math.max(0, c.sent - c.received);
    rec.loss_pct = c.sent > 0 ? round((100 * Math.max(0, c.sent - c.received)) / c.sent, 2) : null;
    const notes = [...c.notes];
    if (c.perRound.length > 1) notes.push(`rounds ${Math.round(Math.min(...c.perRound) / 1000)}k-${Math.round(Math.max(...c.perRound) / 1000)}k msgs/s`);
    if (c.failures.length > 0) notes.push(`${c.failures.length} round(s) failed: ${c.failures[0]!.slice(0, 200)}`);
    rec.note = notes.join("; ");
    return rec;
  });
  for (const rec of records) {
    const base = records.find((b) => b.transport === TP_BASELINE && b.mode === rec.mode);
    rec.ratio_msgs_vs_raw = ratioRounded(rec.msgs_per_s, base?.msgs_per_s);
  }
  return records;
}
