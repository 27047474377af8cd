/**
 * Receiving side of FEC, one per peer: remembers the last `window` groups and
 * rebuilds a missing data datagram once enough of its group arrived.
 *
 * - XorReceiver keeps one accumulator per group: the XOR of every data shard
 *   and the parity shard that arrived. With k - 1 data shards and the parity
 *   in it, the accumulator IS the missing shard. Memory: window x mtu.
 * - RsReceiver keeps the shards themselves and solves for up to m missing
 *   ones (gf256.ts). Memory: window x (k + m) x mtu, allocated lazily.
 *
 * Both use parity row 0 (plain XOR) identically, so an xor receiver repairs
 * single losses of Reed-Solomon groups too. Nothing here throws on input: a
 * malformed or inconsistent group is counted and forgotten.
 */
import { decode } from "./gf256.ts";
import {
  BODY_OFFSET, CORE_TYPE_DATA, CORE_TYPE_MASK, HEADER_SIZE, MAX_DATA, MAX_PARITY, shardHash, wordsOf, xorRange,
} from "./wire.ts";

/**
 * Incoming datagrams are copied here first (a memcpy, far cheaper than a 32-bit view of a foreign
 * buffer), so XOR and hash run on aligned words through views made once.
 */
let scratch = new Uint8Array(2048);
let scratch32 = wordsOf(scratch);

function aligned(data: Uint8Array, inner: number): Uint8Array {
  if (scratch.length < inner) {
    scratch = new Uint8Array(Math.max(inner, scratch.length * 2));
    scratch32 = wordsOf(scratch);
  }
  // The whole datagram (trailer included): copying a few bytes more beats creating a subarray.
  if (scratch.length < data.length) {
    scratch = new Uint8Array(data.length * 2);
    scratch32 = wordsOf(scratch);
  }
  scratch.set(data);
  return scratch;
}
/** Counters the receivers update (the plugin's stats). */
export interface RxCounters {
  parityReceived: number;
  recovered: number;
  /** Groups forgotten with a data loss that could not be repaired (too many losses, parity lost). */
  unrecoverable: number;
  malformed: number;
  unknownGroup: number;
  badCheck: number;
}

/** What a parity datagram's trailer says (the plugin's parsed Trailer satisfies it). */
export interface ParityInfo {
  group: number;
  /** Parity row. */
  index: number;
  k: number;
  m: number;
  lenParity: number;
  typeParity: number;
  check: number;
}

/** Where rebuilt datagrams go: the plugin injects them into the endpoint. */
export interface RecoverySink {
  recovered(bytes: Uint8Array): void;
}

export interface Receiver {
  /** A data datagram (core datagram in data[0, inner)) of `group` at `index`. False = malformed (drop it). */
  onData(data: Uint8Array, inner: number, group: number, index: number, sink: RecoverySink): boolean;
  /** A parity datagram: header + body parity in data[0, inner), the rest from its trailer. Never passed on. */
  onParity(data: Uint8Array, inner: number, p: ParityInfo, sink: RecoverySink): void;
}

/** Groups further ahead than window * AHEAD_FACTOR are not believed at once (garbage, forged in plaintext mode)... */
const AHEAD_FACTOR = 4;
/** ...unless this many data datagrams in a row say so (a long outage): then the window resyncs. */
const RESYNC_RUN = 4;

interface SlotBase {
  group: number;
  done: boolean;
}

abstract class GroupWindow<S extends SlotBase> {
  private newest = -1;
  private outsideRun = 0;
  protected readonly slots: (S | undefined)[];
  protected readonly mask: number;

  constructor(protected readonly size: number, protected readonly counters: RxCounters, protected readonly verify: boolean) {
    this.slots = new Array<S | undefined>(size);
    this.mask = size - 1;
  }

  protected abstract create(): S;
  /** Forgets the slot's group (counting an unrepaired loss) and starts `group` in it. */
  protected abstract reset(slot: S, group: number): void;

  /** The slot of `group`, or null when the group is outside the window (too old, or implausibly new). */
  protected slotFor(group: number, isData: boolean): S | null {
    if (this.newest < 0) this.newest = group;
    const d = (((group - this.newest) << 16) >> 16);
    const outside = d > this.size * AHEAD_FACTOR || d <= -this.size;
    if (outside) {
      if (!isData || ++this.outsideRun < RESYNC_RUN) return null;
      this.newest = group;
    } else if (d > 0) {
      this.newest = group;
    }
    if (isData) this.outsideRun = 0;
    const i = group & this.mask;
    let slot = this.slots[i];
    if (slot === undefined) {
      slot = this.create();
      this.slots[i] = slot;
    }
    if (slot.group !== group) {
      // A newer group already took the slot: this one is too old to repair.
      if (slot.group >= 0 && ((((slot.group - group) << 16) >> 16) > 0)) return null;
      this.reset(slot, group);
    }
    return slot;
  }
}

/** Scratch for a rebuilt datagram (grown as needed, shared: the endpoint copies injected bytes). */
let outBuf = new Uint8Array(2048);

function outBuffer(size: number): Uint8Array {
  if (outBuf.length < size) outBuf = new Uint8Array(Math.max(size, outBuf.length * 2));
  return outBuf;
}

/**
 * Checks a rebuilt shard (length at [0, 2), type at [2], body from BODY_OFFSET, zero-padded to
 * `end`). Returns its hash (0 when not verifying), or -1 when it is not a well-formed DATA datagram.
 */
function parseShard(shard: Uint8Array, end: number, verify: boolean): number {
  const bodyLen = (shard[0]! << 8) | shard[1]!;
  const type = shard[2]!;
  if (BODY_OFFSET + bodyLen > end || (type & CORE_TYPE_MASK) !== CORE_TYPE_DATA || bodyLen < 10) return -1;
  // A genuine shard is zero-padded up to the parity's length: anything else there is corruption.
  for (let t = BODY_OFFSET + bodyLen; t < end; t++) if (shard[t] !== 0) return -1;
  return verify ? shardHash(shard, wordsOf(shard), bodyLen, type) : 0;
}

/** Turns a checked shard into a core datagram (`header`: any datagram of the connection) for the sink. */
function emitShard(shard: Uint8Array, header: Uint8Array, sink: RecoverySink): void {
  const bodyLen = (shard[0]! << 8) | shard[1]!;
  const out = outBuffer(HEADER_SIZE + bodyLen);
  out[0] = header[0]!;
  out[1] = shard[2]!;
  out[2] = header[2]!;
  out[3] = header[3]!;
  out[4] = header[4]!;
  out[5] = header[5]!;
  out.set(shard.subarray(BODY_OFFSET, BODY_OFFSET + bodyLen), HEADER_SIZE);
  sink.recovered(out.subarray(0, HEADER_SIZE + bodyLen));
}

// ---- XOR ----

class XorSlot implements SlotBase {
  group = -1;
  done = false;
  k = 0;
  mask = 0;
  count = 0;
  parity = false;
  /** End of the shard vector: BODY_OFFSET + the parity's body length. */
  end = 0;
  /** XOR of the shards that arrived: [0, 3) length and type, body from BODY_OFFSET. */
  acc: Uint8Array;
  acc32: Int32Array<ArrayBufferLike>;
  /** acc is nonzero at most in [0, accEnd). */
  accEnd = 0;
  hashAcc = 0;
  check = 0;
  constructor(capacity: number) {
    this.acc = new Uint8Array(capacity);
    this.acc32 = wordsOf(this.acc);
  }
}

export class XorReceiver extends GroupWindow<XorSlot> implements Receiver {
  constructor(size: number, counters: RxCounters, verify: boolean, private readonly capacity: number) {
    super(size, counters, verify);
  }

  protected create(): XorSlot {
    return new XorSlot(this.capacity);
  }

  protected reset(slot: XorSlot, group: number): void {
    if (slot.group >= 0 && !slot.done && slot.parity && slot.count < slot.k) this.counters.unrecoverable++;
    slot.group = group;
    slot.done = false;
    slot.k = 0;
    slot.mask = 0;
    slot.count = 0;
    slot.parity = false;
    slot.end = 0;
    slot.acc.fill(0, 0, slot.accEnd);
    slot.accEnd = 0;
    slot.hashAcc = 0;
    slot.check = 0;
  }

  private ensure(slot: XorSlot, end: number): void {
    if (slot.acc.length >= end) return;
    const grown = new Uint8Array(Math.max(end, slot.acc.length * 2));
    grown.set(slot.acc.subarray(0, slot.accEnd));
    slot.acc = grown;
    slot.acc32 = wordsOf(grown);
  }

  onData(data: Uint8Array, inner: number, group: number, index: number, sink: RecoverySink): boolean {
    const slot = this.slotFor(group, true);
    if (slot === null || slot.done) return true;
    if (slot.k > 0 && index >= slot.k) {
      this.counters.malformed++;
      return false;
    }
    const bit = 1 << index;
    if ((slot.mask & bit) !== 0) return true; // a duplicate: the core drops it
    if (slot.parity && inner > slot.end) {
      // Longer than the parity that covers it: not of this group.
      this.counters.malformed++;
      return false;
    }
    const bodyLen = inner - HEADER_SIZE;
    this.ensure(slot, inner);
    const acc = slot.acc;
    const type = data[1]!;
    const src = aligned(data, inner);
    acc[0]! ^= bodyLen >>> 8;
    acc[1]! ^= bodyLen & 0xff;
    acc[2]! ^= type;
    xorRange(acc, slot.acc32, src, scratch32, BODY_OFFSET, inner);
    if (inner > slot.accEnd) slot.accEnd = inner;
    if (this.verify) slot.hashAcc ^= shardHash(src, scratch32, bodyLen, type);
    slot.mask |= bit;
    slot.count++;
    if (slot.parity) this.settle(slot, data, sink);
    return true;
  }

  onParity(data: Uint8Array, inner: number, p: ParityInfo, sink: RecoverySink): void {
    this.counters.parityReceived++;
    const slot = this.slotFor(p.group, false);
    if (slot === null) {
      this.counters.unknownGroup++;
      return;
    }
    // Only row 0 is a plain XOR; a repaired, finished or already covered group needs nothing.
    if (slot.done || p.index !== 0 || slot.parity) return;
    const k = p.k;
    if ((k < MAX_DATA && (slot.mask >>> k) !== 0) || slot.accEnd > inner) {
      // Data indexes beyond k, or data longer than the parity: an inconsistent group.
      this.counters.malformed++;
      slot.done = true;
      return;
    }
    this.ensure(slot, inner);
    const acc = slot.acc;
    acc[0]! ^= p.lenParity >>> 8;
    acc[1]! ^= p.lenParity & 0xff;
    acc[2]! ^= p.typeParity;
    xorRange(acc, slot.acc32, aligned(data, inner), scratch32, BODY_OFFSET, inner);
    slot.accEnd = inner;
    slot.end = inner;
    slot.parity = true;
    slot.k = k;
    slot.check = p.check;
    this.settle(slot, data, sink);
  }

  /** With the parity in: done when complete, repaired when exactly one data shard is missing. */
  private settle(slot: XorSlot, header: Uint8Array, sink: RecoverySink): void {
    if (slot.count >= slot.k) {
      slot.done = true;
      return;
    }
    if (slot.count !== slot.k - 1) return;
    slot.done = true;
    const h = parseShard(slot.acc, slot.end, this.verify);
    if (h < 0 || (this.verify && ((h ^ slot.hashAcc) >>> 0) !== slot.check)) {
      this.counters.badCheck++;
      return;
    }
    this.counters.recovered++;
    emitShard(slot.acc, header, sink);
  }
}

// ---- Reed-Solomon ----

class RsSlot implements SlotBase {
  group = -1;
  done = false;
  k = 0;
  m = 0;
  /** End of the shard vector: BODY_OFFSET + the parity's body length. */
  end = 0;
  dataMask = 0;
  dataCount = 0;
  parityMask = 0;
  parityCount = 0;
  hashAcc = 0;
  check = 0;
  /** Shards in the XorSlot layout; dataEnd[i] = where data shard i's bytes end. */
  readonly data: Uint8Array[] = [];
  readonly dataEnd = new Int32Array(MAX_DATA);
  readonly parity: Uint8Array[] = [];
}

const present: boolean[] = [];
const parityList: Uint8Array[] = [];
const parityRows: number[] = [];

/** Copies a datagram's first `inner` bytes into a shard buffer of at least `size` bytes, prefix in front. */
function storeShard(buf: Uint8Array | undefined, size: number, data: Uint8Array, inner: number, len: number, type: number): Uint8Array {
  if (buf === undefined || buf.length < size) buf = new Uint8Array(Math.max(size, 256));
  buf.set(data.subarray(0, inner));
  buf[0] = len >>> 8;
  buf[1] = len & 0xff;
  buf[2] = type;
  buf[3] = 0;
  buf[4] = 0;
  buf[5] = 0;
  return buf;
}

export class RsReceiver extends GroupWindow<RsSlot> implements Receiver {
  protected create(): RsSlot {
    return new RsSlot();
  }

  protected reset(slot: RsSlot, group: number): void {
    if (slot.group >= 0 && !slot.done && slot.parityCount > 0 && slot.dataCount < slot.k) this.counters.unrecoverable++;
    slot.group = group;
    slot.done = false;
    slot.k = 0;
    slot.m = 0;
    slot.end = 0;
    slot.dataMask = 0;
    slot.dataCount = 0;
    slot.parityMask = 0;
    slot.parityCount = 0;
    slot.hashAcc = 0;
    slot.check = 0;
  }

  onData(data: Uint8Array, inner: number, group: number, index: number, sink: RecoverySink): boolean {
    const slot = this.slotFor(group, true);
    if (slot === null || slot.done) return true;
    if (slot.k > 0 && index >= slot.k) {
      this.counters.malformed++;
      return false;
    }
    const bit = 1 << index;
    if ((slot.dataMask & bit) !== 0) return true;
    if (slot.end > 0 && inner > slot.end) {
      this.counters.malformed++;
      return false;
    }
    const bodyLen = inner - HEADER_SIZE;
    const type = data[1]!;
    slot.data[index] = storeShard(slot.data[index], inner, data, inner, bodyLen, type);
    slot.dataEnd[index] = inner;
    if (this.verify) slot.hashAcc ^= shardHash(aligned(data, inner), scratch32, bodyLen, type);
    slot.dataMask |= bit;
    slot.dataCount++;
    if (slot.parityCount > 0) this.settle(slot, data, sink);
    return true;
  }

  onParity(data: Uint8Array, inner: number, p: ParityInfo, sink: RecoverySink): void {
    this.counters.parityReceived++;
    const slot = this.slotFor(p.group, false);
    if (slot === null) {
      this.counters.unknownGroup++;
      return;
    }
    if (slot.done) return;
    const bit = 1 << p.index;
    if ((slot.parityMask & bit) !== 0) return;
    let longest = 0;
    for (let i = 0; i < MAX_DATA; i++) if ((slot.dataMask & (1 << i)) !== 0 && slot.dataEnd[i]! > longest) longest = slot.dataEnd[i]!;
    const consistent = slot.parityCount === 0
      ? (p.k >= MAX_DATA || (slot.dataMask >>> p.k) === 0) && longest <= inner
      : slot.k === p.k && slot.m === p.m && slot.end === inner && slot.check === p.check;
    if (!consistent) {
      this.counters.malformed++;
      slot.done = true;
      return;
    }
    slot.parity[p.index] = storeShard(slot.parity[p.index], inner, data, inner, p.lenParity, p.typeParity);
    slot.k = p.k;
    slot.m = p.m;
    slot.end = inner;
    slot.check = p.check;
    slot.parityMask |= bit;
    slot.parityCount++;
    this.settle(slot, data, sink);
  }

  private settle(slot: RsSlot, header: Uint8Array, sink: RecoverySink): void {
    const k = slot.k;
    if (slot.dataCount >= k) {
      slot.done = true;
      return;
    }
    if (slot.dataCount + slot.parityCount < k) return;
    slot.done = true;
    const end = slot.end;
    present.length = 0;
    parityList.length = 0;
    parityRows.length = 0;
    for (let i = 0; i < k; i++) {
      const has = (slot.dataMask & (1 << i)) !== 0;
      present.push(has);
      let buf = slot.data[i];
      if (buf === undefined || buf.length < end) {
        const grown = new Uint8Array(Math.max(end, 256));
        if (buf !== undefined && has) grown.set(buf.subarray(0, slot.dataEnd[i]!));
        buf = grown;
        slot.data[i] = buf;
      }
      // Shards are zero-padded to the parity's length for the algebra.
      if (has) buf.fill(0, slot.dataEnd[i]!, end);
    }
    for (let r = 0; r < MAX_PARITY; r++) {
      if ((slot.parityMask & (1 << r)) === 0) continue;
      parityList.push(slot.parity[r]!);
      parityRows.push(r);
    }
    if (!decode(k, slot.data, present, parityList, parityRows, end)) {
      this.counters.badCheck++;
      return;
    }
    let h = slot.hashAcc;
    for (let i = 0; i < k; i++) {
      if (present[i]) continue;
      const hi = parseShard(slot.data[i]!, end, this.verify);
      if (hi < 0) {
        this.counters.badCheck++;
        return;
      }
      h ^= hi;
    }
    if (this.verify && (h >>> 0) !== slot.check) {
      this.counters.badCheck++;
      return;
    }
    for (let i = 0; i < k; i++) {
      if (present[i]) continue;
      this.counters.recovered++;
      emitShard(slot.data[i]!, header, sink);
    }
  }
}
