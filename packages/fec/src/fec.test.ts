/**
 * The FEC plugin's hooks driven directly (no simulator): a sending plugin seals
 * core DATA datagrams, the test drops, reorders, duplicates or corrupts what it
 * produced, and a receiving plugin opens the rest. Scenario tests on the
 * simulator are in scenarios.test.ts.
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { type Peer, type PluginContext, SeededRandom } from "@fastnet/core/protocol";
import { fec, type FecPlugin } from "./fec.ts";
import type { FecOptions } from "./options.ts";
import { KIND_DATA, KIND_PARITY, KIND_PLAIN, PARITY_TRAILER, REPORT_UNKNOWN, tagOf, writeU16 } from "./wire.ts";

const MTU = 1200;

interface Side {
  plugin: FecPlugin;
  ctx: PluginContext;
  peer: Peer;
  /** Datagrams the plugin queued with ctx.sendDatagram (parity). */
  queued: Uint8Array[];
  /** Datagrams the plugin handed back with ctx.injectDatagram (rebuilt). */
  injected: Uint8Array[];
  setNow(t: number): void;
}

function side(options?: FecOptions): Side {
  const plugin = fec(options);
  const queued: Uint8Array[] = [];
  const injected: Uint8Array[] = [];
  let now = 0;
  const ctx: PluginContext = {
    slot: 0,
    get now() {
      return now;
    },
    random: new SeededRandom(1),
    mtu: MTU,
    channelKind: () => "reliable-ordered",
    send: () => 0,
    deliver: () => {},
    queueDatagram: () => {},
    sendDatagram: (_peer, data) => {
      if (data.length > MTU) throw new Error(`parity of ${data.length} bytes exceeds the mtu`);
      queued.push(data.slice());
    },
    injectDatagram: (_from, data) => void injected.push(data.slice()),
    countDrop: () => {},
    disconnect: () => {},
  };
  const peer: Peer = {
    id: 7, address: { host: "10.0.0.9", port: 9 }, state: "connected", rttMs: 40, sendBudget: 1e6,
    stats: () => {
      throw new Error("not needed");
    },
    slots: [undefined], userData: undefined,
  };
  plugin.init!(ctx);
  return { plugin, ctx, peer, queued, injected, setNow: (t) => void (now = t) };
}

let seqCounter = 0;
/** A core DATA datagram: fixed header, DATA header (seq), then `body` bytes of frames. */
function corePacket(body: number, fill = seqCounter): Uint8Array {
  const b = new Uint8Array(16 + body);
  b.set([0xf1, 0x15, 0xaa, 0xbb, 0xcc, 0xdd]);
  writeU16(b, 6, seqCounter++ & 0xffff);
  for (let i = 16; i < b.length; i++) b[i] = (fill * 31 + i) & 0xff;
  return b;
}

/** Seals `pkt` on `tx`; returns the datagram and any parity the plugin queued meanwhile. */
function seal(tx: Side, pkt: Uint8Array): { datagram: Uint8Array; parity: Uint8Array[] } {
  const buf = new Uint8Array(MTU + 64);
  buf.set(pkt);
  const n = tx.plugin.sealDatagram!(buf, pkt.length, tx.peer, tx.ctx);
  expect(n).toBeGreaterThan(pkt.length);
  expect(n - pkt.length).toBeLessThanOrEqual(tx.plugin.datagramOverhead);
  const parity = tx.queued.splice(0);
  return { datagram: buf.slice(0, n), parity };
}

/** Opens `datagram` on `rx`; returns what the core would get (or null). */
function open(rx: Side, datagram: Uint8Array): Uint8Array | null {
  const out = rx.plugin.openDatagram!(datagram.slice(), rx.peer, rx.peer.address, rx.ctx);
  return out === null ? null : out.slice();
}

/** Sends `count` packets of varied sizes through `tx`; returns [originals, datagrams in send order]. */
function group(tx: Side, count: number, sizes = [300, 40, 1000, 7, 120, 800, 55, 999]): { originals: Uint8Array[]; wire: Uint8Array[] } {
  const originals: Uint8Array[] = [];
  const wire: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const pkt = corePacket(sizes[i % sizes.length]!);
    originals.push(pkt);
    const { datagram, parity } = seal(tx, pkt);
    wire.push(datagram, ...parity);
  }
  return { originals, wire };
}

const kindOf = (d: Uint8Array): number => d[d.length - 1]! >>> 6;

describe("fec: sealing", () => {
  test("data datagrams get a 4-byte trailer, and a full group of 4 is followed by one parity datagram", () => {
    const tx = side({ adaptive: false });
    const { originals, wire } = group(tx, 4);
    expect(wire.map(kindOf)).toEqual([KIND_DATA, KIND_DATA, KIND_DATA, KIND_DATA, KIND_PARITY]);
    for (let i = 0; i < 4; i++) {
      expect(wire[i]!.length).toBe(originals[i]!.length + 4);
      expect(wire[i]!.subarray(0, originals[i]!.length)).toEqual(originals[i]!);
      expect(wire[i]![wire[i]!.length - 1]).toBe(tagOf(KIND_DATA, i));
    }
    // Parity: header, body parity as long as the longest body (1000 bytes of frames + 10-byte DATA header), trailer.
    expect(wire[4]!.length).toBe(6 + 1010 + PARITY_TRAILER);
    expect(tx.plugin.stats()).toMatchObject({ datagramsProtected: 4, groups: 1, partialGroups: 0, parityDatagramsSent: 1 });
  });

  test("ack-only datagrams, handshake packets and stateless replies go plain with a 2-byte trailer", () => {
    const tx = side({ adaptive: false });
    const ackOnly = corePacket(0);
    const request = new Uint8Array(1200);
    request.set([0xf1, 0x01, 0, 0, 0, 1]);
    for (const [pkt, peer] of [[ackOnly, tx.peer], [request, { ...tx.peer, state: "connecting" } as Peer], [ackOnly, undefined]] as const) {
      const buf = new Uint8Array(1300);
      buf.set(pkt);
      const n = tx.plugin.sealDatagram!(buf, pkt.length, peer, tx.ctx);
      expect(n).toBe(pkt.length + 2);
      expect(buf[n - 1]).toBe(tagOf(KIND_PLAIN, 0));
    }
    expect(tx.plugin.stats().datagramsProtected).toBe(0);
  });

  test("a group still open at the next tick is closed with the datagrams it has (a partial group)", () => {
    const tx = side({ adaptive: false, groupSize: 8 });
    group(tx, 3);
    expect(tx.plugin.nextDeadline!()).toBe(0);
    tx.plugin.onTick!(0, tx.ctx);
    expect(tx.queued.length).toBe(1);
    const parity = tx.queued[0]!;
    expect(parity[parity.length - 6]).toBe(3); // k: trailer ... k(1) m(1) group(2) report(1) tag(1)
    expect(tx.plugin.stats().partialGroups).toBe(1);
    expect(tx.plugin.nextDeadline!()).toBe(Infinity);
  });

  test("maxGroupDelayMs lets a group wait for later bursts", () => {
    const tx = side({ adaptive: false, groupSize: 4, maxGroupDelayMs: 30 });
    group(tx, 2);
    expect(tx.plugin.nextDeadline!()).toBe(30);
    tx.setNow(10);
    tx.plugin.onTick!(10, tx.ctx);
    expect(tx.queued.length).toBe(0);
    group(tx, 2);
    expect(tx.plugin.stats().groups).toBe(1);
    expect(tx.plugin.stats().partialGroups).toBe(0);
    tx.plugin.onTick!(30, tx.ctx); // the stale timer of the closed group does nothing
    expect(tx.plugin.stats().groups).toBe(1);
  });

  test("a partial reed-solomon group keeps the configured parity ratio", () => {
    const tx = side({ mode: "reed-solomon", adaptive: false, groupSize: 8, parityShards: 4 });
    group(tx, 2);
    tx.plugin.onTick!(0, tx.ctx);
    expect(tx.queued.length).toBe(1); // ceil(4 * 2 / 8)
    tx.queued.length = 0;
    expect(group(tx, 8).wire.filter((d) => kindOf(d) === KIND_PARITY).length).toBe(4);
  });
});

describe("fec: repairing", () => {
  test.each([0, 1, 2, 3])("the datagram lost at index %i of an xor group of 4 is rebuilt byte for byte", (lost) => {
    const tx = side({ adaptive: false });
    const rx = side({ adaptive: false });
    const { originals, wire } = group(tx, 4);
    for (let i = 0; i < wire.length; i++) {
      if (i === lost) continue;
      const out = open(rx, wire[i]!);
      if (i < 4) expect(out).toEqual(originals[i]!);
      else expect(out?.length).toBe(0); // parity is consumed (CONSUMED), not dropped
    }
    expect(rx.injected).toEqual([originals[lost]!]);
    expect(rx.plugin.stats().recovered).toBe(1);
  });

  test("parity that arrives before the data still repairs the loss (reordering)", () => {
    const tx = side({ adaptive: false });
    const rx = side({ adaptive: false });
    const { originals, wire } = group(tx, 4);
    for (const i of [4, 3, 0, 2]) open(rx, wire[i]!);
    expect(rx.injected).toEqual([originals[1]!]);
  });

  test("duplicated data and parity neither break nor repeat a repair", () => {
    const tx = side({ adaptive: false });
    const rx = side({ adaptive: false });
    const { originals, wire } = group(tx, 4);
    for (const i of [0, 0, 1, 4, 1, 4, 3, 3, 4]) open(rx, wire[i]!);
    expect(rx.injected).toEqual([originals[2]!]);
    // The late original is passed on (the core drops it as a duplicate) and repairs nothing more.
    expect(open(rx, wire[2]!)).toEqual(originals[2]!);
    expect(rx.injected.length).toBe(1);
  });

  test("nothing is injected when nothing was lost", () => {
    const tx = side({ adaptive: false });
    const rx = side({ adaptive: false });
    for (const d of group(tx, 12).wire) open(rx, d);
    expect(rx.injected.length).toBe(0);
  });

  test("two losses in an xor group cannot be repaired and are counted when the group is forgotten", () => {
    const tx = side({ adaptive: false, window: 2 });
    const rx = side({ adaptive: false, window: 2 });
    const first = group(tx, 4).wire;
    for (const i of [0, 3, 4]) open(rx, first[i]!);
    for (let g = 0; g < 3; g++) for (const d of group(tx, 4).wire) open(rx, d);
    expect(rx.injected.length).toBe(0);
    expect(rx.plugin.stats().unrecoverable).toBe(1);
  });

  test("reed-solomon 6+3 rebuilds every pattern of up to 3 lost data datagrams", () => {
    for (let pattern = 1; pattern < 64; pattern++) {
      const lost = [0, 1, 2, 3, 4, 5].filter((i) => pattern & (1 << i));
      if (lost.length > 3) continue;
      const tx = side({ mode: "reed-solomon", adaptive: false, groupSize: 6, parityShards: 3 });
      const rx = side({ mode: "reed-solomon", adaptive: false, groupSize: 6, parityShards: 3 });
      const { originals, wire } = group(tx, 6);
      expect(wire.length).toBe(9);
      // Parity first for half the patterns: order must not matter. (Delivered parity-first, data
      // still on its way is rebuilt as soon as k shards are in: the core drops the late original.)
      const order = pattern & 1 ? [...wire.keys()] : [...wire.keys()].reverse();
      for (const i of order) if (!lost.includes(i)) open(rx, wire[i]!);
      for (const i of lost) expect(rx.injected).toContainEqual(originals[i]!);
      for (const d of rx.injected) expect(originals).toContainEqual(d);
    }
  });

  test("reed-solomon repairs data and parity losses mixed, as long as k of k + m arrive", () => {
    const tx = side({ mode: "reed-solomon", adaptive: false, groupSize: 4, parityShards: 2 });
    const rx = side({ mode: "reed-solomon", adaptive: false, groupSize: 4, parityShards: 2 });
    const { originals, wire } = group(tx, 4);
    for (const i of [0, 2, 5]) open(rx, wire[i]!); // data 0, data 2, parity 1: 3 of k = 4
    expect(rx.injected.length).toBe(0);
    open(rx, wire[1]!); // data 1, late: now 4 shards, data 3 can be rebuilt from parity 1 alone
    expect(rx.injected).toEqual([originals[3]!]);
  });

  test("an xor receiver repairs a single loss of a reed-solomon group through parity row 0", () => {
    const tx = side({ mode: "reed-solomon", adaptive: false, groupSize: 4, parityShards: 2 });
    const rx = side({ adaptive: false });
    const { originals, wire } = group(tx, 4);
    for (const i of [0, 1, 3, 4, 5]) open(rx, wire[i]!);
    expect(rx.injected).toEqual([originals[2]!]);
  });

  test("after an outage longer than the window, the receiver resyncs to the sender's groups", () => {
    const tx = side({ adaptive: false });
    const rx = side({ adaptive: false });
    for (const d of group(tx, 4).wire) open(rx, d);
    for (let g = 0; g < 500; g++) group(tx, 4); // all lost
    for (let g = 0; g < 3; g++) for (const d of group(tx, 4).wire) open(rx, d);
    const { originals, wire } = group(tx, 4);
    for (const i of [0, 1, 2, 4]) open(rx, wire[i]!);
    expect(rx.injected).toEqual([originals[3]!]);
  });
});

describe("fec: bad input is dropped and counted, never thrown", () => {
  test("parity for a group outside the receive window", () => {
    const tx = side({ adaptive: false });
    const rx = side({ adaptive: false });
    const old = group(tx, 4).wire;
    for (let g = 0; g < 40; g++) for (const d of group(tx, 4).wire) open(rx, d);
    expect(open(rx, old[4]!)).toBeNull();
    expect(rx.plugin.stats().drops.unknownGroup).toBe(1);
    expect(rx.injected.length).toBe(0);
  });

  test("absurd group sizes from the wire: k of 0, 33 and 255, m of 17, an index of 40", () => {
    const tx = side({ adaptive: false });
    const rx = side({ adaptive: false });
    const { wire } = group(tx, 4);
    const parity = wire[4]!;
    const n = parity.length;
    for (const [at, value] of [[n - 6, 0], [n - 6, 33], [n - 6, 255], [n - 5, 17]] as const) {
      const bad = parity.slice();
      bad[at] = value;
      expect(open(rx, bad)).toBeNull();
    }
    const data = wire[0]!.slice();
    data[data.length - 1] = tagOf(KIND_DATA, 40);
    expect(open(rx, data)).toBeNull();
    expect(rx.plugin.stats().drops.badGroupSize).toBe(5);
  });

  test("malformed trailers: reserved kind, plain tag with bits, too short", () => {
    const rx = side({ adaptive: false });
    const pkt = corePacket(20);
    for (const tail of [[0, 0xc3], [0, 0x05]]) expect(open(rx, Uint8Array.from([...pkt, ...tail]))).toBeNull();
    expect(open(rx, new Uint8Array([0xf1, 0x05, 1]))).toBeNull();
    const s = rx.plugin.stats().drops;
    expect([s.malformed, s.short]).toEqual([2, 1]);
  });

  test("data claiming an index beyond its group's k makes the group inconsistent: nothing is rebuilt", () => {
    const tx = side({ adaptive: false, groupSize: 2 });
    const rx = side({ adaptive: false, groupSize: 2 });
    const { wire } = group(tx, 2); // d0 d1 p(k=2)
    const forged = wire[0]!.slice();
    forged[forged.length - 1] = tagOf(KIND_DATA, 5);
    open(rx, forged);
    open(rx, wire[2]!);
    expect(rx.injected.length).toBe(0);
    expect(rx.plugin.stats().drops.malformed).toBeGreaterThan(0);
  });

  test("a corrupted parity shard is caught by the check: nothing is injected", () => {
    for (const mode of ["xor", "reed-solomon"] as const) {
      for (const at of [6, 7, 8, 20, 500]) {
        const tx = side({ mode, adaptive: false, groupSize: 4, ...(mode === "xor" ? {} : { parityShards: 1 }) });
        const rx = side({ mode, adaptive: false, groupSize: 4, ...(mode === "xor" ? {} : { parityShards: 1 }) });
        const { wire } = group(tx, 4);
        const parity = wire[4]!.slice();
        parity[at]! ^= 0x40;
        for (const d of [wire[0]!, wire[1]!, wire[3]!, parity]) open(rx, d);
        expect(rx.injected.length).toBe(0);
        expect(rx.plugin.stats().drops.badCheck).toBe(1);
      }
    }
  });

  test("a corrupted data datagram in the group spoils the repair, which the check catches", () => {
    const tx = side({ adaptive: false });
    const rx = side({ adaptive: false });
    const { wire } = group(tx, 4);
    const bad = wire[1]!.slice();
    bad[30]! ^= 1;
    for (const d of [wire[0]!, bad, wire[3]!, wire[4]!]) open(rx, d);
    expect(rx.injected.length).toBe(0);
    expect(rx.plugin.stats().drops.badCheck).toBe(1);
  });

  test("random bytes and mutated real datagrams never throw, in both modes", () => {
    for (const mode of ["xor", "reed-solomon"] as const) {
      const tx = side({ mode, adaptive: false });
      const rx = side({ mode, adaptive: false });
      const real = group(tx, 16).wire;
      fc.assert(fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 1400 }),
          fc.tuple(fc.nat(real.length - 1), fc.array(fc.tuple(fc.nat(1500), fc.nat(255)), { maxLength: 4 }), fc.nat(1500)).map(([i, edits, cut]) => {
            const d = real[i]!.slice(0, Math.max(1, Math.min(real[i]!.length, cut)));
            for (const [at, v] of edits) d[at % d.length] = v;
            return d;
          }),
        ),
        (bytes) => {
          rx.plugin.openDatagram!(bytes, rx.peer, rx.peer.address, rx.ctx);
          rx.plugin.openDatagram!(bytes, undefined, rx.peer.address, rx.ctx);
        },
      ), { numRuns: 2000 });
      // Every injected datagram is one that was really sent.
      const originals = new Set(real.map((d) => d.subarray(0, d.length - 4).join()));
      for (const d of rx.injected) expect(originals.has(d.join())).toBe(true);
    }
  });
});

describe("fec: adaptive group size", () => {
  /** Makes `tx` believe the peer measures `report` (a loss * 500 byte) by opening one plain datagram. */
  function reportTo(tx: Side, report: number): void {
    const pkt = corePacket(0);
    const d = Uint8Array.from([...pkt, report, tagOf(KIND_PLAIN, 0)]);
    expect(open(tx, d)).toEqual(pkt);
  }

  test("before the peer's first report the configured group size is used", () => {
    const tx = side();
    reportTo(tx, REPORT_UNKNOWN);
    expect(tx.plugin.peerInfo(tx.peer)).toMatchObject({ groupSize: 4, parityShards: 1, remoteLoss: -1 });
  });

  test.each([
    [0, 0],
    [0.004, 0],
    [0.01, 16],
    [0.02, 11],
    [0.05, 4],
    [0.08, 2],
    [0.1, 2],
    [0.3, 2],
  ])("xor: a peer measuring %p loss gets groups of %i data datagrams (0 = no parity)", (loss, k) => {
    const tx = side();
    reportTo(tx, Math.round(loss * 500));
    expect(tx.plugin.peerInfo(tx.peer)!.groupSize).toBe(k);
    const { wire } = group(tx, 16);
    const parity = wire.filter((d) => kindOf(d) === KIND_PARITY).length;
    expect(parity).toBe(k === 0 ? 0 : Math.floor(16 / k));
    if (k === 0) expect(wire.every((d) => kindOf(d) === KIND_PLAIN)).toBe(true);
  });

  test.each([
    [0.002, 0],
    [0.01, 2],
    [0.05, 3],
    [0.2, 3],
  ])("reed-solomon 8+3: a peer measuring %p loss gets %i parity datagrams per group", (loss, m) => {
    const tx = side({ mode: "reed-solomon" });
    reportTo(tx, Math.round(loss * 500));
    expect(tx.plugin.peerInfo(tx.peer)!.parityShards).toBe(m);
  });

  test("hysteresis: parity starts at minLoss and stops only below half of it", () => {
    const tx = side({ minLoss: 0.02 });
    reportTo(tx, 5); // 1 %: below minLoss, and the first report
    expect(tx.plugin.peerInfo(tx.peer)!.groupSize).toBe(0);
    reportTo(tx, 10); // 2 %: starts
    expect(tx.plugin.peerInfo(tx.peer)!.groupSize).toBeGreaterThan(0);
    reportTo(tx, 6); // 1.2 %: above 1 %, keeps going
    expect(tx.plugin.peerInfo(tx.peer)!.groupSize).toBeGreaterThan(0);
    reportTo(tx, 4); // 0.8 %: stops
    expect(tx.plugin.peerInfo(tx.peer)!.groupSize).toBe(0);
    reportTo(tx, 8); // 1.6 %: not yet again
    expect(tx.plugin.peerInfo(tx.peer)!.groupSize).toBe(0);
  });

  test("with adaptive off, parity is sent even on a clean link", () => {
    const tx = side({ adaptive: false });
    reportTo(tx, 0);
    expect(tx.plugin.peerInfo(tx.peer)!.groupSize).toBe(4);
  });

  test("the receiver's own measurement rides back in every trailer", () => {
    const tx = side({ adaptive: false });
    const rx = side({ adaptive: false });
    // rx sees 10 % of tx's datagrams lost...
    for (let i = 0; i < 600; i++) {
      const { datagram } = seal(tx, corePacket(50));
      if (i % 10 !== 3) open(rx, datagram);
    }
    expect(rx.plugin.peerInfo(rx.peer)!.localLoss).toBeCloseTo(0.1, 2);
    // ...and tells tx in the next datagram it sends.
    const { datagram } = seal(rx, corePacket(50));
    open(tx, datagram);
    expect(tx.plugin.peerInfo(tx.peer)!.remoteLoss).toBeCloseTo(0.1, 2);
  });
});
