/**
 * One peer's protocol state machine: handshake (insecure core flavour; a
 * secure plugin wraps it), packet assembly (acks piggybacked, reliable parts
 * re-packed into new packets, message packing up to the MTU), loss detection
 * (packet threshold 3 = fast retransmit on ack-bitfield gaps, time threshold
 * 9/8 RTT, and a retransmission timeout; RFC 9002 §6), RTT (rtt.ts),
 * congestion (congestion.ts), fragmentation (fragment.ts), delivery per
 * channel kind (channel.ts), keepalive, idle timeout and graceful disconnect.
 * Byte layouts live in wire.ts / PROTOCOL.md.
 */
import { ReceivedWindow, SentRing, type SentPacket } from "./ack.ts";
import { FragState, MESSAGE_WINDOW, OutMessage, RecvChannel, SendChannel } from "./channel.ts";
import type { ResolvedConfig } from "./config.ts";
import type { CongestionController } from "./congestion.ts";
import { NewReno } from "./congestion.ts";
import { ErrorCode, FastnetError } from "./errors.ts";
import { REASSEMBLY_OVERHEAD, PART_OVERHEAD, Reassembly, reassemblyKey } from "./fragment.ts";
import type { Peer, PluginHost, TraceEvent } from "./plugin.ts";
import { RingQueue } from "./queue.ts";
import { RttEstimator } from "./rtt.ts";
import { seqDiff, seqGreater } from "./seq.ts";
import type {
  Address, DisconnectReason, DropReason, EndpointEvent, PeerState, PeerStats, SendOptions,
} from "./types.ts";
import {
  ACCEPT_FIXED, ACK_DELAY_UNIT_MS, ChannelKindCode, DATA_HEADER_SIZE, DISCONNECT_SIZE, DisconnectCode,
  FLAG_HAS_ACK, FRAGMENT_FRAME_OVERHEAD, FrameType, MAX_FRAGMENTS, MESSAGE_FRAME_OVERHEAD, OFF_ACK, OFF_ACK_BITS,
  OFF_ACK_DELAY, OFF_SEQ, PacketType, REQUEST_FIXED, REQUEST_PADDED_SIZE, TOMBSTONE_FRAME_SIZE, readU16, readU32,
  readVarint, varintSize, writeHeader, writeU16, writeU32, writeVarint,
} from "./wire.ts";

/** What a connection needs from its endpoint. */
export interface ConnectionHost {
  readonly cfg: ResolvedConfig;
  readonly plugins: PluginHost;
  /** Largest datagram the connection may build: mtu minus plugin overhead. */
  readonly maxPacketSize: number;
  readonly hasTrace: boolean;
  emit(event: EndpointEvent<Peer>): void;
  drop(reason: DropReason, from: Address | undefined, peer: Peer | undefined): void;
  trace(event: TraceEvent): void;
}

const EMPTY = new Uint8Array(0);
/** Initial packet reordering threshold (RFC 9002 §6.1.1); it grows when losses prove spurious. */
const PACKET_THRESHOLD = 3;
const MAX_PACKET_THRESHOLD = 32;
/** Initial time threshold factor (RFC 9002 §6.1.2); grows with spurious losses, up to 2. */
const TIME_THRESHOLD = 9 / 8;
const MAX_TIME_THRESHOLD = 2;
const MAX_BACKOFF = 6;
/** Copies of DISCONNECT sent, so one loss does not leave the other side waiting for its timeout. */
const DISCONNECT_COPIES = 3;
const cursor = { off: 0 };

export class Connection implements Peer {
  state: PeerState = "connecting";
  remoteId = 0;
  address: Address;
  readonly slots: unknown[] = [];
  userData: unknown = undefined;
  /** Index in the endpoint's timer heap (-1 = not in it). */
  heapIndex = -1;
  deadline = Infinity;
  /** In the endpoint's ready list. */
  ready = false;
  /** In the endpoint's list of deadlines to recompute. */
  dirty = false;
  /** Set by the server once a DATA packet proved the client got our accept. */
  validated: boolean;
  /** Anti-amplification accounting before validation (RFC 9000 §8.1). */
  unvalidatedReceived = 0;
  unvalidatedSent = 0;

  // Handshake.
  readonly startedAt: number;
  nextHandshakeAt: number;
  challenge: Uint8Array | undefined = undefined;
  sendAccept = false;
  disconnectCopies = 0;
  disconnectCode = 0;
  lingerDeadline = Infinity;
  closeReason: DisconnectReason | undefined = undefined;
  peerWindowBytes: number;
  peerMaxMessage: number;

  // Sending.
  private nextSeq = 0;
  private readonly sent = new SentRing();
  private oldestUnresolved = 0;
  private packetThreshold = PACKET_THRESHOLD;
  private timeThreshold = TIME_THRESHOLD;
  /** Sequence of the latest packet declared lost, -1 if none: acks near it are checked for spurious losses. */
  private lastLostSeq = -1;
  private largestAcked = -1;
  bytesInFlight = 0;
  private readonly rtt: RttEstimator;
  readonly cc: CongestionController;
  private backoff = 0;
  private lastElicitingSentAt: number;
  private lossTime = Infinity;
  private pacingAt = Infinity;
  private pingDue = false;
  private readonly sendChannels: SendChannel[];
  private readonly retransmit = new RingQueue<OutMessage>();
  private readonly retransmitFrag = new RingQueue<number>();
  private queuedMessages = 0;
  /** Sum of every channel's queuedBytes. */
  private queuedBytesTotal = 0;
  private nextMessageId = 1;
  private readonly pickView: Float64Array;
  private rr = 0;

  // Receiving.
  private readonly received = new ReceivedWindow();
  private largestReceivedAt = 0;
  private ackPending = false;
  private ackDeadline = Infinity;
  private unackedEliciting = 0;
  lastReceivedAt: number;
  private readonly recvChannels: RecvChannel[];
  private readonly relParts = new Map<number, Reassembly>();
  /** Insertion order = age, so expiry scans from the front. */
  private readonly unrelParts = new Map<number, Reassembly>();
  /** Reassembly charges plus held out-of-order bytes: the memory capped per peer. */
  private memory = 0;
  private readonly memoryCap: number;
  private readonly deliverers: ((data: Uint8Array) => void)[];

  // Stats.
  private s = {
    packetsSent: 0, packetsReceived: 0, bytesSent: 0, bytesReceived: 0, packetsLost: 0, packetsAcked: 0,
    retransmits: 0, messagesSent: 0, messagesReceived: 0, messagesDropped: 0, spuriousLosses: 0,
  };

  constructor(
    private readonly host: ConnectionHost,
    readonly id: number,
    address: Address,
    readonly isClient: boolean,
    now: number,
  ) {
    const cfg = host.cfg;
    this.address = { host: address.host, port: address.port };
    this.startedAt = now;
    this.nextHandshakeAt = now;
    this.lastReceivedAt = now;
    this.lastElicitingSentAt = now;
    this.validated = isClient;
    this.peerWindowBytes = cfg.receiveWindowBytes;
    this.peerMaxMessage = cfg.maxMessageSize;
    this.rtt = new RttEstimator(cfg.initialRttMs, cfg.minRtoMs, cfg.maxRtoMs);
    this.cc = host.plugins.congestion ? host.plugins.congestion(this, cfg.mtu) : new NewReno({ mtu: cfg.mtu });
    this.sendChannels = cfg.channels.map((c, i) => new SendChannel(i, c.kind));
    this.recvChannels = cfg.channels.map((c) => new RecvChannel(c.kind));
    this.pickView = new Float64Array(cfg.channels.length);
    this.memoryCap = cfg.receiveWindowBytes + (cfg.receiveWindowBytes >>> 4) + 65536;
    this.deliverers = cfg.channels.map((_, ch) => (data: Uint8Array) => this.deliver(ch, data));
    for (let i = 0; i < host.plugins.plugins.length; i++) this.slots.push(undefined);
  }

  // ---- Peer view ----

  get rttMs(): number {
    return this.rtt.smoothed;
  }

  get sendBudget(): number {
    return Math.max(0, this.cc.window() - this.bytesInFlight);
  }

  stats(): PeerStats {
    const s = this.s;
    const queuedBytes = this.queuedBytesTotal;
    const resolved = s.packetsLost + s.packetsAcked;
    return {
      rttMs: this.rtt.smoothed,
      rttVarMs: this.rtt.variance,
      minRttMs: this.rtt.hasSample ? this.rtt.min : 0,
      latestRttMs: this.rtt.latest,
      rtoMs: this.rtt.rto() + this.host.cfg.maxAckDelayMs,
      ...s,
      lossRate: resolved === 0 ? 0 : s.packetsLost / resolved,
      congestionWindow: this.cc.window(),
      bytesInFlight: this.bytesInFlight,
      sendBudget: this.sendBudget,
      reassemblyBytes: this.memory,
      queuedBytes,
    };
  }

  // ---- Application sends ----

  /** Queues a message; returns its id. Validation of arguments happens in the endpoint. */
  enqueue(now: number, channel: number, data: Uint8Array, options: SendOptions | undefined, bypassHooks: boolean): number {
    const host = this.host;
    let bytes = data;
    if (!bypassHooks) {
      const hooks = host.plugins.outgoingMessage;
      for (let i = 0; i < hooks.length; i++) {
        const h = hooks[i]!;
        const out = h.fn(this, channel, bytes, h.ctx);
        if (out === null) return 0;
        bytes = out;
      }
    }
    const limit = Math.min(host.cfg.maxMessageSize, this.peerMaxMessage);
    if (bytes.length > limit) {
      throw new FastnetError(ErrorCode.MESSAGE_TOO_LARGE, `message of ${bytes.length} bytes exceeds maxMessageSize (${limit})`);
    }
    if (this.queuedBytesTotal + bytes.length > host.cfg.maxQueuedBytes && this.queuedMessages > 0) {
      throw new FastnetError(ErrorCode.WINDOW_FULL, `peer ${this.id}: ${this.queuedBytesTotal} bytes already queued (maxQueuedBytes ${host.cfg.maxQueuedBytes}); send less or wait for sendBudget`);
    }
    const sc = this.sendChannels[channel]!;
    const room = host.maxPacketSize - DATA_HEADER_SIZE;
    const single = bytes.length + MESSAGE_FRAME_OVERHEAD + varintSize(bytes.length) <= room;
    const fragSize = single ? 0 : room - FRAGMENT_FRAME_OVERHEAD - varintSize(room);
    const fragCount = single ? 1 : Math.ceil(bytes.length / fragSize);
    if (fragCount > MAX_FRAGMENTS) {
      throw new FastnetError(ErrorCode.MESSAGE_TOO_LARGE, `message of ${bytes.length} bytes needs more than ${MAX_FRAGMENTS} fragments at this MTU`);
    }
    let ttl = options?.expiresInMs ?? Infinity;
    if (!sc.reliable) ttl = Math.min(ttl, host.cfg.unreliableTtlMs);
    // Copy: the caller may reuse its buffer as soon as send() returns.
    const msg = new OutMessage(this.nextMessageId, channel, sc.reliable, bytes.slice(), fragCount, fragSize, now, now + ttl);
    this.nextMessageId = (this.nextMessageId + 1) >>> 0 || 1;
    if (sc.kind === "sequenced") this.supersede(now, sc);
    sc.queue.push(msg);
    sc.queuedBytes += msg.data.length;
    this.queuedBytesTotal += msg.data.length;
    this.queuedMessages++;
    return msg.id;
  }

  /** Sequenced: a newer message makes queued, never-sent older ones worthless. */
  private supersede(now: number, sc: SendChannel): void {
    const q = sc.queue;
    const keep = q.peek() !== undefined && q.peek()!.nextFrag > 0 ? q.shift() : undefined;
    while (q.length > 0) this.dropQueued(now, sc, q.shift()!, "superseded");
    if (keep) q.push(keep);
  }

  private dropQueued(now: number, sc: SendChannel, msg: OutMessage, reason: "expired" | "superseded"): void {
    sc.queuedBytes -= msg.data.length;
    this.queuedBytesTotal -= msg.data.length;
    this.queuedMessages--;
    this.s.messagesDropped++;
    if (this.host.hasTrace) this.host.trace({ type: "send-drop", now, peer: this, channel: sc.index, reason });
    // Dropped before it was (wholly) sent: as lost as a lost packet, for feedback purposes.
    if (!msg.lostReported) {
      msg.lostReported = true;
      this.feedback(false, msg);
    }
  }

  hasWork(): boolean {
    return this.queuedMessages > 0 || this.retransmit.length > 0;
  }

  // ---- Building datagrams ----

  /** Writes the next datagram for this peer into `buf`; returns its size, 0 when nothing is due. */
  poll(now: number, buf: Uint8Array): number {
    if (this.disconnectCopies > 0) {
      writeHeader(buf, PacketType.DISCONNECT, 0, this.remoteId);
      buf[DISCONNECT_SIZE - 1] = this.disconnectCode;
      this.disconnectCopies--;
      return DISCONNECT_SIZE;
    }
    if (this.state === "connecting") return this.isClient ? this.pollRequest(now, buf) : this.pollAccept(buf);
    if (this.state === "disconnected") return 0;
    return this.pollData(now, buf);
  }

  private pollRequest(now: number, buf: Uint8Array): number {
    if (now < this.nextHandshakeAt) return 0;
    const cfg = this.host.cfg;
    let payload: Uint8Array = EMPTY;
    const hooks = this.host.plugins.connectPayload;
    for (let i = 0; i < hooks.length; i++) {
      const h = hooks[i]!;
      const p = h.fn(this, this.challenge, h.ctx);
      if (p !== undefined) {
        payload = p;
        break;
      }
    }
    const n = cfg.channels.length;
    const fixed = REQUEST_FIXED + n;
    const max = this.host.maxPacketSize;
    if (fixed + payload.length > max) {
      this.host.drop("oversize", undefined, this);
      // Try again at the next retry (the payload may change), not at once: that would spin until the handshake timeout.
      this.nextHandshakeAt = now + cfg.handshakeRetryMs;
      return 0;
    }
    writeHeader(buf, PacketType.CONNECT_REQUEST, 0, this.id);
    let off = 6;
    writeU32(buf, off, cfg.receiveWindowBytes);
    writeU32(buf, off + 4, cfg.maxMessageSize);
    buf[off + 8] = n;
    off += 9;
    for (let i = 0; i < n; i++) buf[off++] = ChannelKindCode[cfg.channels[i]!.kind];
    writeU16(buf, off, payload.length);
    off += 2;
    buf.set(payload, off);
    off += payload.length;
    // Padding lets the server answer with up to 3x our size without amplifying (RFC 9000 §8.1).
    const padded = Math.max(off, Math.min(REQUEST_PADDED_SIZE, max));
    buf.fill(0, off, padded);
    this.nextHandshakeAt = now + cfg.handshakeRetryMs;
    return padded;
  }

  private pollAccept(buf: Uint8Array): number {
    if (!this.sendAccept) return 0;
    this.sendAccept = false;
    const cfg = this.host.cfg;
    writeHeader(buf, PacketType.CONNECT_ACCEPT, 0, this.remoteId);
    writeU32(buf, 6, this.id);
    writeU32(buf, 10, cfg.receiveWindowBytes);
    writeU32(buf, 14, cfg.maxMessageSize);
    writeU16(buf, 18, 0);
    // Counted as it leaves: sealed by the plugins (their overhead), not as core wrote it.
    const wireSize = ACCEPT_FIXED + this.host.plugins.overhead;
    if (this.unvalidatedSent + wireSize > 3 * this.unvalidatedReceived) {
      this.host.drop("amplification-limit", this.address, this);
      return 0;
    }
    this.unvalidatedSent += wireSize;
    return ACCEPT_FIXED;
  }

  private pollData(now: number, buf: Uint8Array): number {
    const max = this.host.maxPacketSize;
    let mayData = false;
    if (this.retransmit.length > 0 || this.queuedMessages > 0 || this.pingDue) {
      if (this.bytesInFlight === 0 || this.bytesInFlight + max <= this.cc.window()) {
        const t = this.cc.nextSendTime(now, max, this.rtt);
        if (t <= now) {
          mayData = true;
          this.pacingAt = Infinity;
        } else {
          this.pacingAt = t;
        }
      }
    }
    const ackDue = this.ackPending && now >= this.ackDeadline;
    if (!mayData && !ackDue) return 0;

    const seq = this.nextSeq;
    const rec = this.sent.claim(seq);
    // The ring is at its largest and wrapped onto a packet still unresolved: call it lost.
    if (rec.inFlight) this.onLost(now, rec);
    rec.reset(seq);
    writeHeader(buf, PacketType.DATA, this.received.hasAny ? FLAG_HAS_ACK : 0, this.remoteId);
    writeU16(buf, OFF_SEQ, seq);
    writeU16(buf, OFF_ACK, this.received.largest);
    writeU32(buf, OFF_ACK_BITS, this.received.hasAny ? this.received.ackBits() : 0);
    const delay = Math.min(0xffff, Math.max(0, Math.round((now - this.largestReceivedAt) / ACK_DELAY_UNIT_MS)));
    writeU16(buf, OFF_ACK_DELAY, delay);
    let off = DATA_HEADER_SIZE;
    let eliciting = false;
    if (mayData) {
      off = this.writeRetransmits(now, buf, off, max, rec);
      off = this.writeNew(now, buf, off, max, rec);
      eliciting = rec.count > 0;
      if (this.pingDue && !eliciting) {
        buf[off++] = FrameType.PING;
        eliciting = true;
      }
      if (eliciting) this.pingDue = false;
    }
    if (!eliciting && !ackDue) return 0;

    this.nextSeq = (seq + 1) & 0xffff;
    rec.sentAt = now;
    rec.size = off;
    rec.ackEliciting = eliciting;
    rec.inFlight = eliciting;
    this.s.packetsSent++;
    this.s.bytesSent += off;
    if (eliciting) {
      this.bytesInFlight += off;
      this.cc.onPacketSent(now, off);
      this.lastElicitingSentAt = now;
    } else if (this.oldestUnresolved === seq) {
      this.oldestUnresolved = this.nextSeq;
    }
    this.ackPending = false;
    this.unackedEliciting = 0;
    this.ackDeadline = Infinity;
    if (this.host.hasTrace) {
      this.host.trace({ type: "packet-sent", now, peer: this, seq, size: off, ackEliciting: eliciting });
    }
    return off;
  }

  private writeRetransmits(now: number, buf: Uint8Array, off: number, max: number, rec: SentPacket): number {
    const q = this.retransmit;
    const qf = this.retransmitFrag;
    while (q.length > 0) {
      const msg = q.peek()!;
      const frag = qf.peek()!;
      if (msg.acked || (frag >= 0 && (msg.tombstone || msg.state(frag) === FragState.ACKED))) {
        q.shift();
        qf.shift();
        continue;
      }
      if (frag >= 0 && now >= msg.expiresAt) {
        q.shift();
        qf.shift();
        this.abandon(now, msg);
        continue;
      }
      const need = frag < 0 ? TOMBSTONE_FRAME_SIZE : frameSize(msg, frag);
      if (off + need > max) break;
      off = writeFrame(buf, off, msg, frag);
      if (frag >= 0) msg.setState(frag, FragState.IN_FLIGHT);
      rec.add(msg, frag);
      q.shift();
      qf.shift();
      this.s.retransmits++;
    }
    return off;
  }

  private writeNew(now: number, buf: Uint8Array, off: number, max: number, rec: SentPacket): number {
    if (this.queuedMessages === 0) return off;
    const view = this.pickView;
    const chans = this.sendChannels;
    for (let c = 0; c < chans.length; c++) view[c] = chans[c]!.queuedBytes + (chans[c]!.queue.length > 0 ? 1 : 0);
    const scheduler = this.host.plugins.scheduler;
    let skipped = -1;
    for (;;) {
      const c = scheduler ? scheduler.pick(this, view, this.sendBudget) : this.pickRoundRobin(view);
      if (c < 0 || c >= chans.length || view[c] === 0) break;
      const sc = chans[c]!;
      const msg = sc.queue.peek();
      if (msg === undefined) {
        view[c] = 0;
        continue;
      }
      if (now >= msg.expiresAt) {
        sc.queue.shift();
        if (msg.nextFrag > 0 && sc.reliable) {
          sc.queuedBytes -= msg.data.length;
          this.queuedBytesTotal -= msg.data.length;
          this.queuedMessages--;
          this.abandon(now, msg);
        } else {
          this.dropQueued(now, sc, msg, "expired");
        }
        view[c] = sc.queuedBytes + (sc.queue.length > 0 ? 1 : 0);
        continue;
      }
      const frag = msg.nextFrag;
      if (frag === 0 && !(sc.canStart(msg, this.peerWindowBytes) && this.fitsPeerWindow(msg))) {
        view[c] = 0;
        continue;
      }
      const need = frameSize(msg, frag);
      if (off + need > max) {
        if (scheduler !== undefined) break;
        // Round robin: smaller messages of other channels may fill the rest of this packet, and the
        // channel that did not fit goes first in the next one (it used to lose its turn and starve).
        if (skipped < 0) skipped = c;
        view[c] = 0;
        continue;
      }
      if (frag === 0) {
        msg.seq = sc.nextSeq;
        sc.nextSeq = (sc.nextSeq + 1) & 0xffff;
        if (sc.reliable) {
          sc.outstanding.push(msg);
          sc.spanBytes += msg.data.length;
        }
      }
      off = writeFrame(buf, off, msg, frag);
      msg.setState(frag, FragState.IN_FLIGHT);
      rec.add(msg, frag);
      msg.nextFrag++;
      if (msg.nextFrag === msg.fragCount) {
        sc.queue.shift();
        sc.queuedBytes -= msg.data.length;
        this.queuedBytesTotal -= msg.data.length;
        this.queuedMessages--;
        this.s.messagesSent++;
        view[c] = sc.queuedBytes + (sc.queue.length > 0 ? 1 : 0);
      }
    }
    if (skipped >= 0) this.rr = skipped;
    return off;
  }

  /**
   * The peer holds every reliable channel's out-of-order and partial data in one memory budget
   * (its receive window, see memoryCap), so the channels' spans together must fit in it: data it
   * has to refuse was still acked by the packet and would never be resent.
   */
  private fitsPeerWindow(msg: OutMessage): boolean {
    if (!msg.reliable) return true;
    let span = 0;
    for (const c of this.sendChannels) span += c.spanBytes;
    return span === 0 || span + msg.data.length <= this.peerWindowBytes;
  }

  private pickRoundRobin(view: Float64Array): number {
    const n = view.length;
    for (let i = 0; i < n; i++) {
      const c = (this.rr + i) % n;
      if (view[c]! > 0) {
        this.rr = (c + 1) % n;
        return c;
      }
    }
    return -1;
  }

  /** A reliable message expired: replace it with a tombstone the receiver must still see. */
  private abandon(now: number, msg: OutMessage): void {
    if (msg.tombstone || msg.acked) return;
    const sc = this.sendChannels[msg.channel]!;
    sc.spanBytes -= msg.data.length;
    msg.data = EMPTY;
    msg.tombstone = true;
    this.s.messagesDropped++;
    this.retransmit.push(msg);
    this.retransmitFrag.push(-1);
    if (this.host.hasTrace) this.host.trace({ type: "send-drop", now, peer: this, channel: msg.channel, reason: "expired" });
  }

  // ---- Receiving ----

  /** Handles an opened DATA datagram. Returns true if the packet was accepted. */
  onData(now: number, data: Uint8Array, from: Address): boolean {
    const seq = readU16(data, OFF_SEQ);
    const cls = this.received.classify(seq);
    if (cls !== 1) {
      this.host.drop(cls === 0 ? "duplicate" : "stale", from, this);
      return false;
    }
    const bad = validateFrames(data, this.sendChannels);
    if (bad !== null) {
      this.host.drop(bad, from, this);
      return false;
    }
    if (this.received.record(seq)) this.largestReceivedAt = now;
    this.lastReceivedAt = now;
    this.s.packetsReceived++;
    this.s.bytesReceived += data.length;
    if (this.host.hasTrace) this.host.trace({ type: "packet-received", now, peer: this, seq, size: data.length });
    if ((data[1]! & FLAG_HAS_ACK) !== 0) {
      this.onAck(now, readU16(data, OFF_ACK), readU32(data, OFF_ACK_BITS), readU16(data, OFF_ACK_DELAY) * ACK_DELAY_UNIT_MS);
    }
    if (this.applyFrames(now, data)) {
      this.unackedEliciting++;
      this.ackPending = true;
      const at = this.unackedEliciting >= 2 ? now : now + this.host.cfg.maxAckDelayMs;
      if (at < this.ackDeadline) this.ackDeadline = at;
    }
    return true;
  }

  private onAck(now: number, ack: number, bits: number, ackDelayMs: number): void {
    // Acks for packets never sent are ignored: `get` only matches records we hold.
    if (this.s.packetsSent === 0 || seqGreater(ack, (this.nextSeq - 1) & 0xffff)) return;
    let newly = false;
    // Packets older than the oldest unresolved one are all acked or lost already: skip them.
    // After a recent loss the whole field is read too, to catch acks of packets wrongly declared lost.
    const recentLoss = this.lastLostSeq >= 0 && seqDiff(ack, this.lastLostSeq) <= 32;
    const span = recentLoss ? 32 : Math.min(32, seqDiff(ack, this.oldestUnresolved));
    for (let i = 0; i <= span; i++) {
      if (i > 0 && (bits & (1 << (i - 1))) === 0) continue;
      const s = (ack - i) & 0xffff;
      const rec = this.sent.get(s);
      if (rec === undefined) continue;
      if (!rec.inFlight) {
        if (rec.lost) this.onSpuriousLoss(rec, ack);
        continue;
      }
      newly = true;
      rec.inFlight = false;
      this.bytesInFlight -= rec.size;
      this.s.packetsAcked++;
      if (i === 0) this.rtt.update(now - rec.sentAt, ackDelayMs);
      // Every acked packet is traced, not only the largest: observers balance sent = acked + lost.
      if (this.host.hasTrace) this.host.trace({ type: "packet-acked", now, peer: this, seq: s, rttMs: now - rec.sentAt });
      this.cc.onPacketAcked(now, rec.size, rec.sentAt, this.rtt);
      for (let j = 0; j < rec.count; j++) this.onPartAcked(rec.msgs[j]!, rec.frags[j]!);
    }
    if (this.largestAcked < 0 || seqGreater(ack, this.largestAcked)) this.largestAcked = ack;
    if (newly) this.backoff = 0;
    this.detectLosses(now);
  }

  private onPartAcked(msg: OutMessage, frag: number): void {
    if (frag < 0) {
      if (!msg.acked) {
        msg.acked = true;
        this.sendChannels[msg.channel]!.advance();
      }
      return;
    }
    if (!msg.reliable) {
      // Acked means every fragment arrived; a message already reported lost stays lost.
      if (msg.lostReported || msg.state(frag) === FragState.ACKED) return;
      msg.setState(frag, FragState.ACKED);
      msg.ackedFrags++;
      if (msg.ackedFrags === msg.fragCount) this.feedback(true, msg);
      return;
    }
    if (msg.tombstone || msg.state(frag) === FragState.ACKED) return;
    msg.setState(frag, FragState.ACKED);
    msg.ackedFrags++;
    if (msg.ackedFrags === msg.fragCount) {
      msg.acked = true;
      this.sendChannels[msg.channel]!.advance();
      this.feedback(true, msg);
    }
  }

  private feedback(acked: boolean, msg: OutMessage): void {
    const hooks = acked ? this.host.plugins.acked : this.host.plugins.lost;
    for (let i = 0; i < hooks.length; i++) hooks[i]!.fn(this, msg.channel, msg.id, hooks[i]!.ctx);
  }

  private detectLosses(now: number): void {
    this.lossTime = Infinity;
    if (this.largestAcked < 0) return;
    const lossDelay = this.timeThreshold * Math.max(this.rtt.smoothed, this.rtt.latest, 1);
    while (this.oldestUnresolved !== this.nextSeq) {
      const s = this.oldestUnresolved;
      const rec = this.sent.get(s);
      if (rec === undefined || !rec.inFlight) {
        this.oldestUnresolved = (s + 1) & 0xffff;
        continue;
      }
      if (!seqGreater(this.largestAcked, s)) break;
      if (seqDiff(this.largestAcked, s) >= this.packetThreshold || rec.sentAt + lossDelay <= now) {
        this.onLost(now, rec);
        this.oldestUnresolved = (s + 1) & 0xffff;
        continue;
      }
      this.lossTime = rec.sentAt + lossDelay;
      break;
    }
  }

  /**
   * An ack for a packet already declared lost: reordering, not loss. Widen the thresholds so the
   * same reordering is tolerated next time (RFC 9002 §6.1: implementations may adapt them).
   */
  private onSpuriousLoss(rec: SentPacket, ack: number): void {
    rec.lost = false;
    this.s.spuriousLosses++;
    const distance = seqDiff(this.largestAcked >= 0 && seqGreater(this.largestAcked, ack) ? this.largestAcked : ack, rec.seq) + 1;
    if (distance > this.packetThreshold) this.packetThreshold = Math.min(MAX_PACKET_THRESHOLD, distance);
    this.timeThreshold = Math.min(MAX_TIME_THRESHOLD, this.timeThreshold + 0.125);
  }

  private onLost(now: number, rec: SentPacket): void {
    rec.inFlight = false;
    rec.lost = true;
    this.lastLostSeq = rec.seq;
    this.bytesInFlight -= rec.size;
    this.s.packetsLost++;
    this.cc.onPacketLost(now, rec.size, rec.sentAt);
    if (this.host.hasTrace) this.host.trace({ type: "packet-lost", now, peer: this, seq: rec.seq });
    for (let j = 0; j < rec.count; j++) {
      const msg = rec.msgs[j]!;
      const frag = rec.frags[j]!;
      if (frag < 0) {
        if (!msg.acked) {
          this.retransmit.push(msg);
          this.retransmitFrag.push(-1);
        }
        continue;
      }
      if (!msg.reliable) {
        // Any lost fragment loses an unreliable message: reported once.
        if (!msg.lostReported) {
          msg.lostReported = true;
          this.feedback(false, msg);
        }
        continue;
      }
      if (msg.acked || msg.tombstone) continue;
      const st = msg.state(frag);
      if (st === FragState.ACKED || st === FragState.RESEND) continue;
      msg.setState(frag, FragState.RESEND);
      this.retransmit.push(msg);
      this.retransmitFrag.push(frag);
      this.feedback(false, msg);
    }
  }

  /** Retransmission timeout: everything in flight for longer than the RTO is lost; probe if nothing to resend. */
  private onRto(now: number): void {
    const rto = this.rto();
    let s = this.oldestUnresolved;
    while (s !== this.nextSeq) {
      const rec = this.sent.get(s);
      if (rec !== undefined && rec.inFlight && rec.sentAt + rto <= now) this.onLost(now, rec);
      s = (s + 1) & 0xffff;
    }
    this.cc.onRetransmissionTimeout(now);
    this.backoff = Math.min(MAX_BACKOFF, this.backoff + 1);
    if (this.retransmit.length === 0) this.pingDue = true;
  }

  /** The peer may hold its ack for maxAckDelayMs (RFC 9002 §6.2.1 adds max_ack_delay); without it every lone packet races its own ack. */
  private rto(): number {
    return (this.rtt.rto() + this.host.cfg.maxAckDelayMs) * (1 << this.backoff);
  }

  private applyFrames(now: number, data: Uint8Array): boolean {
    let off = DATA_HEADER_SIZE;
    const end = data.length;
    let eliciting = false;
    while (off < end) {
      const type = data[off]!;
      if (type === FrameType.PADDING) break;
      if (type === FrameType.PING) {
        off++;
        eliciting = true;
        continue;
      }
      eliciting = true;
      const ch = data[off + 1]!;
      const seq = readU16(data, off + 2);
      if (type === FrameType.TOMBSTONE) {
        off += TOMBSTONE_FRAME_SIZE;
        this.onTombstone(ch, seq);
        continue;
      }
      if (type === FrameType.MESSAGE) {
        cursor.off = off + 4;
        const len = readVarint(data, cursor, end);
        const start = cursor.off;
        off = start + len;
        this.onMessage(now, ch, seq, data, start, off);
        continue;
      }
      // FRAGMENT (validateFrames allowed nothing else)
      const index = readU16(data, off + 4);
      const count = readU16(data, off + 6);
      cursor.off = off + 8;
      const len = readVarint(data, cursor, end);
      const start = cursor.off;
      off = start + len;
      this.onFragment(now, ch, seq, index, count, data.subarray(start, off));
    }
    return eliciting;
  }

  private onMessage(now: number, ch: number, seq: number, data: Uint8Array, start: number, end: number): void {
    if (end - start > this.host.cfg.maxMessageSize) {
      this.host.drop("message-too-large", this.address, this);
      return;
    }
    const rc = this.recvChannels[ch]!;
    switch (rc.kind) {
      case "unreliable":
        this.deliver(ch, data.slice(start, end));
        return;
      case "sequenced":
        if (!rc.isNewer(seq)) return;
        rc.markSequenced(seq);
        this.deliver(ch, data.slice(start, end));
        return;
      case "reliable-unordered": {
        const c = rc.classify(seq);
        if (c === 1) {
          rc.takeUnordered(seq);
          this.dropParts(ch, seq);
          this.deliver(ch, data.slice(start, end));
        } else if (c < 0) this.host.drop("out-of-window", this.address, this);
        return;
      }
      case "reliable-ordered": {
        const c = rc.classify(seq);
        if (c < 0) this.host.drop("out-of-window", this.address, this);
        if (c !== 1) return;
        if (seq !== rc.base && !this.hasRoom(end - start, true)) {
          this.host.drop("reassembly-cap", this.address, this);
          return;
        }
        this.dropParts(ch, seq);
        this.takeOrdered(ch, rc, seq, data.slice(start, end));
        return;
      }
    }
  }

  /**
   * Is there memory for `bytes` more? Reliable data may evict incomplete unreliable messages,
   * oldest first: the sender counts on reliable data it sent fitting (fitsPeerWindow), and
   * would never resend what we refuse, while unreliable data is never resent anyway.
   */
  private hasRoom(bytes: number, reliable: boolean): boolean {
    if (this.memory + bytes <= this.memoryCap) return true;
    if (!reliable) return false;
    for (const [key, r] of this.unrelParts) {
      this.unrelParts.delete(key);
      this.memory -= r.charge;
      if (this.memory + bytes <= this.memoryCap) return true;
    }
    return false;
  }

  /** A reliable sequence arrived whole: partial fragments claiming it (forged or stale) can never complete. */
  private dropParts(ch: number, seq: number): void {
    if (this.relParts.size === 0) return;
    const key = reassemblyKey(ch, seq);
    const r = this.relParts.get(key);
    if (r === undefined) return;
    this.relParts.delete(key);
    this.memory -= r.charge;
  }

  private takeOrdered(ch: number, rc: RecvChannel, seq: number, msg: Uint8Array | undefined): void {
    const before = rc.heldBytes;
    rc.takeOrdered(seq, msg, this.deliverers[ch]!);
    this.memory += rc.heldBytes - before;
  }

  private onTombstone(ch: number, seq: number): void {
    const rc = this.recvChannels[ch]!;
    const key = reassemblyKey(ch, seq);
    const r = this.relParts.get(key);
    if (r !== undefined) {
      this.relParts.delete(key);
      this.memory -= r.charge;
    }
    if (rc.classify(seq) !== 1) return;
    if (rc.kind === "reliable-ordered") this.takeOrdered(ch, rc, seq, undefined);
    else rc.takeUnordered(seq);
  }

  private onFragment(now: number, ch: number, seq: number, index: number, count: number, part: Uint8Array): void {
    const rc = this.recvChannels[ch]!;
    const reliable = rc.kind === "reliable-ordered" || rc.kind === "reliable-unordered";
    if (reliable) {
      const c = rc.classify(seq);
      if (c < 0) this.host.drop("out-of-window", this.address, this);
      if (c !== 1) return;
    } else if (rc.kind === "sequenced" && !rc.isNewer(seq)) {
      return;
    }
    const maxMessage = this.host.cfg.maxMessageSize;
    if ((index < count - 1 && part.length * (count - 1) > maxMessage) || part.length > maxMessage) {
      this.host.drop("message-too-large", this.address, this);
      return;
    }
    const key = reassemblyKey(ch, seq);
    const parts = reliable ? this.relParts : this.unrelParts;
    let r = parts.get(key);
    if (r === undefined) {
      if (!this.hasRoom(REASSEMBLY_OVERHEAD + PART_OVERHEAD + part.length, reliable)) {
        this.host.drop("reassembly-cap", this.address, this);
        return;
      }
      r = new Reassembly(key, count, now, reliable);
      parts.set(key, r);
      this.memory += r.charge;
    } else if (r.count !== count) {
      this.host.drop("bad-fragment", this.address, this);
      return;
    }
    if (!this.hasRoom(PART_OVERHEAD + part.length, reliable)) {
      this.host.drop("reassembly-cap", this.address, this);
      return;
    }
    const before = r.charge;
    const res = r.add(index, part);
    this.memory += r.charge - before;
    if (res < 0) {
      this.host.drop("bad-fragment", this.address, this);
      return;
    }
    if (!r.complete) return;
    parts.delete(key);
    this.memory -= r.charge;
    if (r.bytes > maxMessage) {
      // Each part passed the size checks, yet together they exceed maxMessageSize.
      this.host.drop("message-too-large", this.address, this);
      return;
    }
    const msg = r.join();
    switch (rc.kind) {
      case "unreliable":
        this.deliver(ch, msg);
        return;
      case "sequenced":
        if (!rc.isNewer(seq)) return;
        rc.markSequenced(seq);
        this.deliver(ch, msg);
        return;
      case "reliable-unordered":
        rc.takeUnordered(seq);
        this.deliver(ch, msg);
        return;
      case "reliable-ordered":
        this.takeOrdered(ch, rc, seq, msg);
        return;
    }
  }

  private deliver(ch: number, data: Uint8Array): void {
    // A plugin hook may have disconnected the peer (ctx.disconnect) while this packet is applied:
    // nothing reaches the application after its 'disconnected' event.
    if (this.state === "disconnected") return;
    const hooks = this.host.plugins.incomingMessage;
    let bytes: Uint8Array | null = data;
    for (let i = 0; i < hooks.length && bytes !== null; i++) bytes = hooks[i]!.fn(this, ch, bytes, hooks[i]!.ctx);
    if (bytes === null || (this.state as PeerState) === "disconnected") return;
    this.s.messagesReceived++;
    this.host.emit({ type: "message", peer: this, channel: ch, data: bytes });
  }

  // ---- Time ----

  /** Earliest time this connection needs handleTimeout. */
  nextDeadline(): number {
    const cfg = this.host.cfg;
    if (this.state === "disconnected") return Infinity;
    if (this.state === "connecting") {
      const timeout = this.startedAt + cfg.handshakeTimeoutMs;
      return this.isClient ? Math.min(this.nextHandshakeAt, timeout) : timeout;
    }
    let t = this.lastReceivedAt + cfg.idleTimeoutMs;
    if (this.ackPending && this.ackDeadline < t) t = this.ackDeadline;
    if (this.bytesInFlight > 0) {
      if (this.lossTime < t) t = this.lossTime;
      const rto = this.lastElicitingSentAt + this.rto();
      if (rto < t) t = rto;
    }
    if (!this.pingDue) {
      const keepalive = this.lastElicitingSentAt + cfg.keepaliveIntervalMs;
      if (keepalive < t) t = keepalive;
    }
    if (this.pacingAt < t) t = this.pacingAt;
    if (this.unrelParts.size > 0) {
      const first = this.unrelParts.values().next().value as Reassembly;
      const exp = first.createdAt + cfg.fragmentTimeoutMs;
      if (exp < t) t = exp;
    }
    if (this.lingerDeadline < t) t = this.lingerDeadline;
    // A graceful disconnect ends as soon as everything is acked, not at the next unrelated timer.
    if (this.state === "disconnecting" && this.flushed()) t = this.lastReceivedAt;
    return t;
  }

  /**
   * Processes every deadline that has passed. Returns a disconnect reason when the
   * connection must end now, otherwise undefined.
   */
  onTimeout(now: number): DisconnectReason | undefined {
    const cfg = this.host.cfg;
    if (this.state === "connecting") {
      if (now >= this.startedAt + cfg.handshakeTimeoutMs) return "handshake-timeout";
      return undefined;
    }
    if (this.state === "disconnected") return undefined;
    if (now >= this.lastReceivedAt + cfg.idleTimeoutMs) return "timeout";
    if (this.lossTime <= now) this.detectLosses(now);
    if (this.bytesInFlight > 0 && now >= this.lastElicitingSentAt + this.rto()) this.onRto(now);
    if (now >= this.lastElicitingSentAt + cfg.keepaliveIntervalMs) this.pingDue = true;
    if (this.pacingAt <= now) this.pacingAt = Infinity;
    if (this.unrelParts.size > 0) this.expireFragments(now);
    if (this.state === "disconnecting" && (now >= this.lingerDeadline || this.flushed())) return "closed-locally";
    return undefined;
  }

  private expireFragments(now: number): void {
    const timeout = this.host.cfg.fragmentTimeoutMs;
    for (const [key, r] of this.unrelParts) {
      if (r.createdAt + timeout > now) break;
      this.unrelParts.delete(key);
      this.memory -= r.charge;
    }
  }

  /** True when the connection wants pollTransmit now. */
  wantsToSend(now: number): boolean {
    if (this.disconnectCopies > 0) return true;
    if (this.state === "connecting") return this.isClient ? now >= this.nextHandshakeAt : this.sendAccept;
    if (this.state === "disconnected") return false;
    if (this.ackPending && now >= this.ackDeadline) return true;
    if (this.retransmit.length === 0 && this.queuedMessages === 0 && !this.pingDue) return false;
    return this.pacingAt === Infinity && (this.bytesInFlight === 0 || this.bytesInFlight + this.host.maxPacketSize <= this.cc.window());
  }

  /** Every reliable message acked and nothing queued. */
  flushed(): boolean {
    if (this.queuedMessages > 0 || this.retransmit.length > 0) return false;
    for (const sc of this.sendChannels) if (sc.outstanding.length > 0) return false;
    return true;
  }

  // ---- Handshake / lifecycle transitions (driven by the endpoint) ----

  /** Client: the server accepted. */
  onAccepted(now: number, serverId: number, window: number, maxMessage: number): void {
    this.remoteId = serverId;
    this.peerWindowBytes = window;
    this.peerMaxMessage = maxMessage;
    this.state = "connected";
    this.lastReceivedAt = now;
    this.pingDue = true;
  }

  /** Server: the client's first DATA arrived, its address is validated. */
  onConfirmed(now: number): void {
    this.state = "connected";
    this.validated = true;
    this.lastReceivedAt = now;
    this.lastElicitingSentAt = now;
  }

  beginDisconnect(now: number): void {
    this.state = "disconnecting";
    this.lingerDeadline = now + this.host.cfg.disconnectLingerMs;
  }

  /** Marks the connection closed and schedules DISCONNECT copies when the peer should hear of it. */
  close(reason: DisconnectReason, notifyPeer: boolean): void {
    this.state = "disconnected";
    this.closeReason = reason;
    this.lingerDeadline = Infinity;
    if (notifyPeer && this.remoteId !== 0) {
      this.disconnectCopies = DISCONNECT_COPIES;
      this.disconnectCode = reason === "timeout" ? DisconnectCode.timeout
        : reason === "protocol-violation" ? DisconnectCode["protocol-violation"]
        : DisconnectCode["closed-by-peer"];
    }
  }
}

function frameSize(msg: OutMessage, frag: number): number {
  const len = msg.fragLength(frag);
  return (msg.fragCount === 1 ? MESSAGE_FRAME_OVERHEAD : FRAGMENT_FRAME_OVERHEAD) + varintSize(len) + len;
}

function writeFrame(buf: Uint8Array, off: number, msg: OutMessage, frag: number): number {
  if (frag < 0) {
    buf[off] = FrameType.TOMBSTONE;
    buf[off + 1] = msg.channel;
    writeU16(buf, off + 2, msg.seq);
    return off + TOMBSTONE_FRAME_SIZE;
  }
  const len = msg.fragLength(frag);
  buf[off + 1] = msg.channel;
  writeU16(buf, off + 2, msg.seq);
  if (msg.fragCount === 1) {
    buf[off] = FrameType.MESSAGE;
    off = writeVarint(buf, off + 4, len);
    buf.set(msg.data, off);
    return off + len;
  }
  buf[off] = FrameType.FRAGMENT;
  writeU16(buf, off + 4, frag);
  writeU16(buf, off + 6, msg.fragCount);
  off = writeVarint(buf, off + 8, len);
  const start = frag * msg.fragSize;
  buf.set(msg.data.subarray(start, start + len), off);
  return off + len;
}

/**
 * First pass over a DATA packet's frames: structure only, nothing applied, so a
 * malformed packet is dropped whole. Returns a drop reason or null when valid.
 */
export function validateFrames(data: Uint8Array, channels: readonly { reliable: boolean }[]): DropReason | null {
  let off = DATA_HEADER_SIZE;
  const end = data.length;
  while (off < end) {
    const type = data[off]!;
    if (type === FrameType.PADDING) {
      for (let i = off + 1; i < end; i++) if (data[i] !== 0) return "malformed";
      return null;
    }
    if (type === FrameType.PING) {
      off++;
      continue;
    }
    if (off + 4 > end) return "malformed";
    const ch = data[off + 1]!;
    const channel = channels[ch];
    if (channel === undefined) return "bad-channel";
    if (type === FrameType.TOMBSTONE) {
      if (!channel.reliable) return "bad-channel";
      off += TOMBSTONE_FRAME_SIZE;
      continue;
    }
    if (type === FrameType.MESSAGE) {
      cursor.off = off + 4;
    } else if (type === FrameType.FRAGMENT) {
      if (off + 8 > end) return "malformed";
      const index = readU16(data, off + 4);
      const count = readU16(data, off + 6);
      if (count < 2 || index >= count) return "bad-fragment";
      cursor.off = off + 8;
    } else {
      return "malformed";
    }
    const len = readVarint(data, cursor, end);
    if (len < 0 || cursor.off + len > end) return "malformed";
    off = cursor.off + len;
  }
  return null;
}

export { MESSAGE_WINDOW };
