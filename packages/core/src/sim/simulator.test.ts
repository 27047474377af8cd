/**
 * Tests of the network simulator, driven by tiny real sans-IO endpoints
 * (pinger, blaster, sink, echo, timer) defined below.
 */
import { describe, expect, test } from "bun:test";
import type { Address, Transmit } from "../protocol/types.ts";
import { SimLivelockError, Simulator, type LinkConfig, type SimEndpoint } from "./index.ts";

const A: Address = { host: "10.0.0.1", port: 1000 };
const B: Address = { host: "10.0.0.2", port: 2000 };

/** Payload layout of test datagrams: u32 sequence number, f64 send time. */
const HEADER = 12;

function writeHeader(buf: Uint8Array, seq: number, sentAt: number): void {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  view.setUint32(0, seq);
  view.setFloat64(4, sentAt);
}

interface Arrival {
  t: number;
  seq: number;
  sentAt: number;
  size: number;
  from: Address;
}

/** Records every datagram it receives; sends nothing. */
class Sink implements SimEndpoint {
  readonly received: Arrival[] = [];
  handleDatagram(now: number, from: Address, data: Uint8Array): void {
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    const seq = data.length >= HEADER ? view.getUint32(0) : -1;
    const sentAt = data.length >= HEADER ? view.getFloat64(4) : -1;
    this.received.push({ t: now, seq, sentAt, size: data.length, from });
  }
  handleTimeout(_now: number): void {}
  pollTransmit(_now: number, _buf: Uint8Array): Transmit | null {
    return null;
  }
  pollTimeout(): number {
    return Infinity;
  }
}

/** Sends `count` numbered datagrams to `peer`, one every `intervalMs` from t=0; records what comes back. */
class Pinger extends Sink {
  private nextAt = 0;
  private queued = 0;
  private sent = 0;
  private readonly tx: Transmit;
  constructor(peer: Address, private readonly count: number, private readonly intervalMs: number, private readonly size = 64) {
    super();
    this.tx = { to: peer, size };
  }
  override handleTimeout(now: number): void {
    while (this.nextAt <= now && this.sent + this.queued < this.count) {
      this.queued++;
      this.nextAt += this.intervalMs;
    }
  }
  override pollTransmit(now: number, buf: Uint8Array): Transmit | null {
    if (this.queued === 0) return null;
    this.queued--;
    writeHeader(buf, this.sent++, now);
    this.tx.size = this.size;
    return this.tx;
  }
  override pollTimeout(): number {
    return this.sent + this.queued < this.count ? this.nextAt : Infinity;
  }
}

/** Sends one numbered datagram per entry of `sizes` to `peer`, all at the first poll. */
class Blaster extends Sink {
  private next = 0;
  private readonly tx: Transmit;
  constructor(peer: Address, private readonly sizes: readonly number[]) {
    super();
    this.tx = { to: peer, size: 0 };
  }
  override pollTransmit(now: number, buf: Uint8Array): Transmit | null {
    const size = this.sizes[this.next];
    if (size === undefined) return null;
    writeHeader(buf, this.next++, now);
    this.tx.size = size;
    return this.tx;
  }
}

/** Sends back every datagram it receives. */
class Echo implements SimEndpoint {
  private readonly pending: { to: Address; data: Uint8Array }[] = [];
  private readonly tx: Transmit = { to: A, size: 0 };
  handleDatagram(_now: number, from: Address, data: Uint8Array): void {
    // A copy: the simulator's buffer must not be retained.
    this.pending.push({ to: from, data: data.slice() });
  }
  handleTimeout(): void {}
  pollTransmit(_now: number, buf: Uint8Array): Transmit | null {
    const item = this.pending.shift();
    if (item === undefined) return null;
    buf.set(item.data);
    this.tx.to = item.to;
    this.tx.size = item.data.length;
    return this.tx;
  }
  pollTimeout(): number {
    return Infinity;
  }
}

/** Fires at a list of absolute deadlines and records when it was called. */
class Timer extends Sink {
  readonly fired: number[] = [];
  constructor(private deadlines: number[]) {
    super();
  }
  setDeadlines(deadlines: number[]): void {
    this.deadlines = deadlines;
  }
  override handleTimeout(now: number): void {
    this.fired.push(now);
    this.deadlines = this.deadlines.filter((d) => d > now);
  }
  override pollTimeout(): number {
    return this.deadlines.length > 0 ? Math.min(...this.deadlines) : Infinity;
  }
}

function blast(link: LinkConfig, sizes: readonly number[], seed = 7): { sim: Simulator; sink: Sink } {
  const sim = new Simulator({ seed, link, trace: true });
  const sink = new Sink();
  sim.addNode(new Blaster(B, sizes), A);
  sim.addNode(sink, B);
  sim.runFor(60_000);
  return { sim, sink };
}

function sizes(n: number, size = 100): number[] {
  return new Array<number>(n).fill(size);
}

/** Mean length of runs of consecutive sequence numbers in [0, n) missing from `received`. */
function meanLossRun(received: readonly Arrival[], n: number): number {
  const got = new Uint8Array(n);
  for (const r of received) got[r.seq] = 1;
  let runs = 0;
  let lost = 0;
  for (let i = 0; i < n; i++) {
    if (got[i] === 1) continue;
    lost++;
    if (i === 0 || got[i - 1] === 1) runs++;
  }
  return runs === 0 ? 0 : lost / runs;
}

describe("Simulator", () => {
  test("the same seed gives the same trace hash and a different seed gives a different one", () => {
    const run = (seed: number): { hash: string; length: number } => {
      const sim = new Simulator({
        seed,
        trace: true,
        link: { latencyMs: 20, jitterMs: 5, loss: 0.1, duplicate: 0.05, reorder: 0.05 },
      });
      sim.addNode(new Pinger(B, 200, 10), A);
      sim.addNode(new Echo(), B);
      sim.runFor(3000);
      return { hash: sim.traceHash(), length: sim.trace.length };
    };
    const first = run(1);
    expect(first.length).toBeGreaterThan(300);
    expect(run(1)).toEqual(first);
    expect(run(2).hash).not.toBe(first.hash);
  });

  test("a datagram arrives exactly latencyMs after it was sent when there is no jitter", () => {
    const sim = new Simulator({ seed: 1, link: { latencyMs: 25 } });
    const sink = new Sink();
    sim.addNode(new Pinger(B, 20, 10), A);
    sim.addNode(sink, B);
    sim.runFor(1000);
    expect(sink.received.length).toBe(20);
    for (const r of sink.received) expect(r.t - r.sentAt).toBe(25);
    expect(sink.received[0]!.from).toEqual(A);
  });

  test("jitter keeps every one-way delay within latencyMs plus or minus jitterMs", () => {
    const sim = new Simulator({ seed: 3, link: { latencyMs: 30, jitterMs: 10 } });
    const sink = new Sink();
    sim.addNode(new Pinger(B, 500, 5), A);
    sim.addNode(sink, B);
    sim.runFor(5000);
    const delays = sink.received.map((r) => r.t - r.sentAt);
    expect(delays.length).toBe(500);
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(20);
    expect(Math.max(...delays)).toBeLessThanOrEqual(40);
    expect(Math.max(...delays) - Math.min(...delays)).toBeGreaterThan(15);
  });

  test("a loss of 0.2 loses about 20% of 10,000 datagrams", () => {
    const { sim, sink } = blast({ loss: 0.2 }, sizes(10_000));
    const stats = sim.linkStats(A, B);
    expect(stats.sent).toBe(10_000);
    expect(stats.lost + stats.delivered).toBe(10_000);
    expect(sink.received.length).toBe(stats.delivered);
    // Binomial sd is 40 datagrams (0.4%); ±3% is far outside chance.
    expect(stats.lost / 10_000).toBeGreaterThan(0.17);
    expect(stats.lost / 10_000).toBeLessThan(0.23);
  });

  test("a duplicate rate of 0.1 delivers about 10% extra copies", () => {
    const { sim, sink } = blast({ duplicate: 0.1 }, sizes(10_000));
    const stats = sim.linkStats(A, B);
    expect(sink.received.length).toBe(10_000 + stats.duplicated);
    expect(stats.duplicated).toBeGreaterThan(700);
    expect(stats.duplicated).toBeLessThan(1300);
    expect(sim.trace.filter((r) => r.fate === "duplicated").length).toBe(stats.duplicated);
    expect(new Set(sink.received.map((r) => r.seq)).size).toBe(10_000);
  });

  test("a reorder rate of 0.1 makes some datagrams arrive out of order", () => {
    const sim = new Simulator({ seed: 5, link: { latencyMs: 5, reorder: 0.1, reorderDelayMs: 20 } });
    const sink = new Sink();
    sim.addNode(new Pinger(B, 1000, 1), A);
    sim.addNode(sink, B);
    sim.runFor(2000);
    expect(sink.received.length).toBe(1000);
    let inversions = 0;
    for (let i = 1; i < sink.received.length; i++) {
      if (sink.received[i]!.seq < sink.received[i - 1]!.seq) inversions++;
    }
    expect(inversions).toBeGreaterThan(50);
    const reordered = sim.linkStats(A, B).reordered;
    expect(reordered).toBeGreaterThan(70);
    expect(reordered).toBeLessThan(130);
  });

  test("with reorder 0 and jitter 0 datagrams arrive in the order they were sent", () => {
    const sim = new Simulator({ seed: 5, link: { latencyMs: 5, loss: 0.1, bandwidthBps: 50_000 } });
    const sink = new Sink();
    sim.addNode(new Pinger(B, 1000, 1), A);
    sim.addNode(sink, B);
    sim.runFor(5000);
    expect(sink.received.length).toBeGreaterThan(800);
    for (let i = 1; i < sink.received.length; i++) {
      expect(sink.received[i]!.seq).toBeGreaterThan(sink.received[i - 1]!.seq);
    }
  });

  test("the mtu drops datagrams larger than it and counts them", () => {
    const mixed = Array.from({ length: 100 }, (_, i) => (i % 2 === 0 ? 1000 : 1500));
    const { sim, sink } = blast({ mtu: 1200 }, mixed);
    expect(sink.received.length).toBe(50);
    expect(sink.received.every((r) => r.size === 1000)).toBe(true);
    expect(sim.linkStats(A, B).mtuDropped).toBe(50);
    expect(sim.trace.filter((r) => r.fate === "mtu").length).toBe(50);
  });

  test("100 datagrams of 1000 B on a 100,000 B/s link take one second to all arrive", () => {
    const sim = new Simulator({ seed: 1, link: { bandwidthBps: 100_000 } });
    const sink = new Sink();
    sim.addNode(new Blaster(B, sizes(100, 1000)), A);
    sim.addNode(sink, B);
    expect(sim.runUntil(() => sink.received.length === 100, { maxMs: 5000 })).toBe(true);
    expect(sim.now).toBeCloseTo(1000, 6);
    expect(sink.received[0]!.t).toBeCloseTo(10, 6);
  });

  test("a queueLimitBytes of 10,000 drops the datagrams that do not fit in the queue", () => {
    const { sim, sink } = blast({ bandwidthBps: 100_000, queueLimitBytes: 10_000 }, sizes(100, 1000));
    expect(sink.received.length).toBe(10);
    expect(sim.linkStats(A, B).queueDropped).toBe(90);
    expect(sim.trace.filter((r) => r.fate === "queue").length).toBe(90);
  });

  test("burst loss produces runs of consecutive losses averaging more than 1.5", () => {
    const n = 10_000;
    const bursty = blast({ burstLoss: { pGoodToBad: 0.05, pBadToGood: 0.25, lossInBad: 1 } }, sizes(n));
    expect(bursty.sim.linkStats(A, B).lost).toBeGreaterThan(500);
    expect(meanLossRun(bursty.sink.received, n)).toBeGreaterThan(1.5);
    // Independent loss at a similar rate does not: its mean run is 1 / (1 - p) = 1.25.
    const random = blast({ loss: 0.2 }, sizes(n));
    expect(meanLossRun(random.sink.received, n)).toBeLessThan(1.5);
  });

  test("endpoint timeouts fire exactly at their deadlines on the virtual clock", () => {
    const sim = new Simulator({ seed: 1 });
    const timer = new Timer([5, 12.5, 40, 1000]);
    sim.addNode(timer, A);
    sim.runFor(100);
    expect(timer.fired).toEqual([5, 12.5, 40]);
    expect(sim.now).toBe(100);
    sim.runFor(900);
    expect(timer.fired).toEqual([5, 12.5, 40, 1000]);
  });

  test("a deadline the app moves between runs replaces the old one", () => {
    const sim = new Simulator({ seed: 1 });
    const timer = new Timer([100]);
    sim.addNode(timer, A);
    sim.runFor(10);
    timer.setDeadlines([20]);
    sim.runFor(200);
    expect(timer.fired).toEqual([20]);
  });

  test("runUntil stops at maxMs and returns false when the predicate never holds", () => {
    const sim = new Simulator({ seed: 1, link: { latencyMs: 10 } });
    sim.addNode(new Pinger(B, 1000, 10), A);
    sim.addNode(new Echo(), B);
    expect(sim.runUntil(() => false, { maxMs: 250 })).toBe(false);
    expect(sim.now).toBe(250);
  });

  test("runUntil returns true at the event that satisfies the predicate", () => {
    const sim = new Simulator({ seed: 1, link: { latencyMs: 25 } });
    const sink = new Sink();
    sim.addNode(new Pinger(B, 100, 10), A);
    sim.addNode(sink, B);
    expect(sim.runUntil(() => sink.received.length === 3, { maxMs: 1000 })).toBe(true);
    expect(sim.now).toBe(45);
  });

  test("step processes one event at a time and returns false when nothing is left", () => {
    const sim = new Simulator({ seed: 1, link: { latencyMs: 3 } });
    const sink = new Sink();
    sim.addNode(new Blaster(B, sizes(3)), A);
    sim.addNode(sink, B);
    let steps = 0;
    while (sim.step()) steps++;
    expect(steps).toBe(3);
    expect(sink.received.length).toBe(3);
    expect(sim.now).toBe(3);
    expect(sim.step()).toBe(false);
    expect(sim.nextEventTime()).toBe(Infinity);
  });

  test("datagrams to an address with no node are dropped and counted", () => {
    const nowhere: Address = { host: "10.9.9.9", port: 9 };
    const sim = new Simulator({ seed: 1, trace: true });
    sim.addNode(new Blaster(nowhere, sizes(5)), A);
    sim.runFor(10);
    expect(sim.linkStats(A, nowhere).noRoute).toBe(5);
    expect(sim.stats().delivered).toBe(0);
    expect(sim.trace.map((r) => r.fate)).toEqual(new Array(5).fill("no-route"));
  });

  test("inject delivers raw bytes from any address at the requested virtual time", () => {
    const sim = new Simulator({ seed: 1, link: { loss: 1 } });
    const sink = new Sink();
    sim.addNode(sink, B);
    const attacker: Address = { host: "2001:db8::1", port: 666 };
    const bytes = new Uint8Array([1, 2, 3]);
    sim.inject(attacker, B, bytes, 42);
    bytes[0] = 99;
    sim.runFor(100);
    expect(sink.received.map((r) => [r.t, r.size, r.from.host])).toEqual([[42, 3, "2001:db8::1"]]);
    expect(sim.linkStats(attacker, B).injected).toBe(1);
  });

  test("two echo nodes on a 0 ms link raise SimLivelockError instead of hanging", () => {
    const sim = new Simulator({ seed: 1, maxEventsPerInstant: 1000 });
    sim.addNode(new Echo(), A);
    sim.addNode(new Echo(), B);
    sim.inject(B, A, new Uint8Array(8));
    expect(() => sim.runFor(1)).toThrow(SimLivelockError);
  });

  test("an invalid link option throws FASTNET_INVALID_CONFIG naming the option", () => {
    expect(() => new Simulator({ seed: 1, link: { loss: 1.5 } })).toThrow(
      expect.objectContaining({ code: "FASTNET_INVALID_CONFIG", message: expect.stringContaining("link.loss") }),
    );
    const sim = new Simulator({ seed: 1 });
    expect(() => sim.setLink(A, B, { burstLoss: { pGoodToBad: 0.1, pBadToGood: -1, lossInBad: 1 } })).toThrow(
      expect.objectContaining({ message: expect.stringContaining("burstLoss.pBadToGood") }),
    );
    expect(() => sim.runUntil(() => true, { maxMs: Infinity })).toThrow(expect.objectContaining({ code: "FASTNET_INVALID_ARGUMENT" }));
  });

  test("setLink overrides one direction only", () => {
    const sim = new Simulator({ seed: 1, link: { latencyMs: 5 } });
    const pinger = new Pinger(B, 1, 10);
    sim.addNode(pinger, A);
    sim.addNode(new Echo(), B);
    sim.setLink(A, B, { latencyMs: 40 });
    sim.runFor(100);
    expect(pinger.received.map((r) => r.t)).toEqual([45]);
    expect(sim.linkConfig(B, A).latencyMs).toBe(5);
  });
});
