/**
 * Scenario 4: bad network. The server sends a 64 B state update (sequence
 * number + send time) at 60 Hz; the client keeps the latest one it has and,
 * every millisecond, records its age (now minus the update's send time, on
 * the machine-wide monotonic clock). Between them, a relay process adds
 * 20 ms each way (40 ms RTT) and 1, 5 or 10% loss: the UDP relay for raw UDP
 * and fastnet, the TCP proxy (loss emulated as TCP's repair delay, see
 * relay.ts) for WebSocket. The p50/p99 age shows head-of-line blocking:
 * a reliable-ordered stream holds newer updates behind a lost one, a
 * sequenced channel delivers the newest and skips the lost one.
 *
 * fastnet runs plaintext here: the encrypted umbrella's TLS handshake
 * answers with the server's own UDP port, which would bypass the relay (and
 * encryption adds microseconds, not the milliseconds measured here).
 */
import { type RunContext, wanted } from "../context.ts";
import { msgTransport } from "../msg.ts";
import { Child, emit, emitAndExit, killAll, clockUs, spawnServer } from "../proc.ts";
import { emptyRecord, fillLatency, type BenchRecord } from "../schema.ts";
import { round } from "../stats.ts";
import { ratioRounded } from "./rtt.ts";

export const BADNET_TRANSPORTS = ["raw-udp", "fastnet-sequenced", "fastnet-reliable", "websocket"];
const BADNET_BASELINE = "raw-udp";
const SIZE = 64;
const HZ = 60;
const ONE_WAY_MS = 20;

/** Worker: state server. Sends the state at 60 Hz to every client that said hello. */
export async function bnServer(args: string[]): Promise<void> {
  const server = await msgTransport(args[0]!).serve({ onMessage() {} });
  emit({ port: server.port });
  const payload = new Uint8Array(SIZE);
  const dv = new DataView(payload.buffer);
  let seq = 0;
  setInterval(() => {
    if (server.clients() === 0) return;
    dv.setUint32(0, ++seq, true);
    dv.setFloat64(4, clockUs(), true);
    server.broadcast(payload);
  }, 1000 / HZ);
}

/** Worker: connects (through the relay), says hello, samples the age of the latest state every ms. */
export async function bnClient(args: string[]): Promise<void> {
  const [name, portS, warmS, measureS] = args;
  const warm = Number(warmS);
  const measure = Number(measureS);
  let latestSeq = 0;
  let latestAt = -1;
  let updates = 0;
  let stale = 0;
  const client = await msgTransport(name!).connect(Number(portS), {
    onMessage(data) {
      if (data.length < 12) return;
      const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
      const seq = dv.getUint32(0, true);
      updates++;
      if (seq <= latestSeq) {
        stale++;
        return;
      }
      latestSeq = seq;
      latestAt = dv.getFloat64(4, true);
    },
  });
  // Raw UDP has no connection: the hello (repeated until the first update, it may be lost) is it.
  const hello = new Uint8Array([1]);
  client.send(hello);
  const helloTimer = setInterval(() => {
    if (latestAt < 0) client.send(hello);
  }, 50);
  const samples: number[] = [];
  const start = performance.now();
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const t = performance.now() - start;
      if (t >= warm + measure) {
        clearInterval(timer);
        resolve();
        return;
      }
      if (t >= warm && latestAt >= 0) samples.push(Math.round(clockUs() - latestAt));
    }, 1);
  });
  clearInterval(helloTimer);
  await emitAndExit({ samples, updates, stale });
}

export function badnetProfiles(quick: boolean): number[] {
  return quick ? [5] : [1, 5, 10];
}

export async function runBadnet(ctx: RunContext): Promise<BenchRecord[]> {
  const rounds = ctx.rounds ?? (ctx.quick ? 1 : 2);
  const warm = ctx.quick ? 500 : 1000;
  const measure = ctx.quick ? 1500 : 3500;
  interface Cfg { transport: string; lossPct: number; samples: number[]; updates: number; rounds: number; failures: string[] }
  const configs: Cfg[] = [];
  for (const lossPct of badnetProfiles(ctx.quick)) {
    for (const t of BADNET_TRANSPORTS) if (wanted(ctx, t, BADNET_BASELINE)) configs.push({ transport: t, lossPct, samples: [], updates: 0, rounds: 0, failures: [] });
  }
  ctx.log(`badnet: ${configs.length} configurations x ${rounds} interleaved rounds, ${measure} ms of age samples after ${warm} ms`);
  for (let r = 0; r < rounds; r++) {
    for (const c of configs) {
      let server: Child | undefined;
      let relay: Child | undefined;
      let client: Child | undefined;
      try {
        const s = await spawnServer(["bn-server", c.transport], undefined);
        server = s.child;
        // Same seed for every transport of a (round, profile): they face the same sequence of loss draws.
        const seed = 1000 * (r + 1) + c.lossPct;
        const rl = await spawnServer(["relay", c.transport === "websocket" ? "tcp" : "udp", s.port, ONE_WAY_MS, c.lossPct, seed], undefined);
        relay = rl.child;
        client = Child.spawn(["bn-client", c.transport, rl.port, warm, measure]);
        const res = await client.json<{ samples: number[]; updates: number }>(60_000, "age samples");
        c.samples.push(...res.samples);
        c.updates += res.updates;
        c.rounds++;
      } catch (err) {
        c.failures.push(err instanceof Error ? err.message : String(err));
        ctx.log(`badnet: ${c.transport} ${c.lossPct}% round ${r + 1} failed: ${c.failures[c.failures.length - 1]}`);
      } finally {
        await killAll([client, relay, server]);
      }
    }
    ctx.log(`badnet: round ${r + 1}/${rounds} done`);
  }
  const records = configs.map((c) => {
    const rec = emptyRecord("badnet", c.transport, `rtt${2 * ONE_WAY_MS}ms-loss${c.lossPct}pct`, "unpinned", SIZE);
    rec.rtt_ms = 2 * ONE_WAY_MS;
    rec.loss_pct = c.lossPct;
    rec.rounds = c.rounds;
    fillLatency(rec, c.samples);
    const notes = [`${c.updates} updates received (${HZ} Hz sent)`];
    if (c.transport === "websocket") notes.push("TCP loss emulated as repair delay (relay.ts)");
    if (c.failures.length > 0) notes.push(`${c.failures.length} round(s) failed: ${c.failures[0]!.slice(0, 200)}`);
    rec.note = notes.join("; ");
    return rec;
  });
  for (const rec of records) {
    const base = records.find((b) => b.transport === BADNET_BASELINE && b.mode === rec.mode);
    rec.ratio_p50_vs_raw = ratioRounded(rec.p50_us, base?.p50_us);
    rec.ratio_p99_vs_raw = ratioRounded(rec.p99_us, base?.p99_us);
  }
  return records;
}
