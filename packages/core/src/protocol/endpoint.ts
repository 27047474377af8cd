/**
 * The sans-IO endpoint: demultiplexes datagrams to connections by connection
 * id (an array index, no Map lookup), admits new peers, runs timers through a
 * min-heap, and hands out datagrams and events through poll* calls
 * (ARCHITECTURE.md §3). Datagram checks happen in the order PROTOCOL.md
 * "Reading a datagram" lists. Untrusted input never throws: it is dropped and
 * counted by reason (§6).
 */
import { assertSecurity, type EndpointConfig, type ResolvedConfig, resolveConfig } from "./config.ts";
import { Connection, type ConnectionHost } from "./connection.ts";
import { argError, ErrorCode, FastnetError } from "./errors.ts";
import { CONSUMED, type ConnectDecision, type Peer, type PluginContext, PluginHost, type TraceEvent } from "./plugin.ts";
import { RingQueue } from "./queue.ts";
import { randomU32 } from "./random.ts";
import type {
  Address, ChannelKind, DisconnectReason, DropReason, EndpointEvent, SendOptions, Transmit,
} from "./types.ts";
import { DROP_REASONS } from "./types.ts";
import {
  ACCEPT_FIXED, AMPLIFICATION_FACTOR, CHALLENGE_FIXED, ChannelKindCode, DATA_HEADER_SIZE, DENY_FIXED, DenyCode,
  DisconnectCode, DISCONNECT_SIZE, FRAGMENT_FRAME_OVERHEAD, HEADER_SIZE, MAX_DATAGRAM, MAX_FRAGMENTS, PacketType,
  REQUEST_FIXED, REQUEST_MIN_SIZE, VERSION_BYTE, connectionIdOf, packetTypeOf, readU16, readU32, writeHeader,
  writeU16,
} from "./wire.ts";

export interface EndpointStats {
  peers: number;
  pendingHandshakes: number;
  datagramsReceived: number;
  datagramsSent: number;
  bytesReceived: number;
  bytesSent: number;
  /** Dropped input by reason. */
  drops: Record<DropReason, number>;
}

interface Outgoing {
  to: Address;
  data: Uint8Array;
  /** For ctx.sendDatagram: seal transforms of plugins registered after slot `afterSlot` still run. */
  peer?: Connection;
  afterSlot?: number;
}

interface Injected {
  from: Address;
  data: Uint8Array;
  /** Only open transforms of plugins registered before this slot run (inner layers). */
  beforeSlot: number;
}

/** Datagrams plugins may inject per handleDatagram call: bounds a plugin that injects from its own injections. */
const MAX_INJECTED_PER_CALL = 256;

const DENY_TEXT = new TextEncoder();

export class Endpoint implements ConnectionHost {
  readonly cfg: ResolvedConfig;
  readonly plugins = new PluginHost();
  readonly maxPacketSize: number;
  hasTrace = false;
  /**
   * Set by a driver: called when a send queued output outside handleDatagram/handleTimeout (an
   * application or plugin send from a game loop), so the driver can flush without waiting.
   */
  onOutput: (() => void) | undefined = undefined;
  private readonly conns: (Connection | undefined)[] = [];
  private readonly free: number[] = [];
  private readonly byHandshake = new Map<string, Connection>();
  private pending = 0;
  private peerCount = 0;
  private readonly heap: Connection[] = [];
  private readonly readyList = new RingQueue<Connection>();
  /** Connections whose deadline must be recomputed before the heap is read. */
  private readonly dirty: Connection[] = [];
  private readonly events = new RingQueue<EndpointEvent<Peer>>();
  private readonly outbox = new RingQueue<Outgoing>();
  private readonly inbox = new RingQueue<Injected>();
  private readonly transmit: Transmit = { to: { host: "", port: 0 }, size: 0 };
  private readonly scratch4 = new Uint8Array(4);
  /** Scratch: [slot, state, slot, state, ...] from onConnecting decisions. */
  private readonly acceptStates: unknown[] = [];
  private readonly drops = Object.fromEntries(DROP_REASONS.map((r) => [r, 0])) as Record<DropReason, number>;
  private counters = { datagramsReceived: 0, datagramsSent: 0, bytesReceived: 0, bytesSent: 0 };
  private now = 0;
  private closed = false;

  constructor(config: EndpointConfig) {
    this.cfg = resolveConfig(config);
    for (const p of this.cfg.plugins) this.plugins.register(p, (slot) => this.makeContext(slot));
    assertSecurity(this.cfg, this.plugins.secure);
    this.hasTrace = this.plugins.trace.length > 0;
    this.maxPacketSize = this.cfg.mtu - this.plugins.overhead;
    if (this.maxPacketSize < REQUEST_FIXED + this.cfg.channels.length + 64) {
      throw new FastnetError(ErrorCode.INVALID_CONFIG, `option 'mtu' (${this.cfg.mtu}) leaves no room after plugin overhead (${this.plugins.overhead} bytes)`);
    }
    const room = this.maxPacketSize - DATA_HEADER_SIZE - FRAGMENT_FRAME_OVERHEAD - 3;
    if (Math.ceil(this.cfg.maxMessageSize / room) > MAX_FRAGMENTS) {
      throw new FastnetError(ErrorCode.INVALID_CONFIG, `option 'maxMessageSize' (${this.cfg.maxMessageSize}) needs more than ${MAX_FRAGMENTS} fragments at mtu ${this.cfg.mtu}`);
    }
  }

  get mtu(): number {
    return this.cfg.mtu;
  }

  get channelCount(): number {
    return this.cfg.channels.length;
  }

  channelKind(channel: number): ChannelKind | undefined {
    return this.cfg.channels[channel]?.kind;
  }

  // ---- Application API ----

  /** Starts connecting to a server. Returns the peer in state "connecting"; watch for its connected or disconnected event. */
  connect(now: number, to: Address): Peer {
    this.assertOpen();
    this.setNow(now);
    if (!to || typeof to.host !== "string" || !Number.isInteger(to.port) || to.port < 1 || to.port > 65535) {
      throw argError("to", "an address { host, port } with port 1..65535", to);
    }
    const slot = this.allocSlot();
    if (slot < 0) throw new FastnetError(ErrorCode.TOO_MANY_PEERS, `maxPeers (${this.cfg.maxPeers}) reached`);
    const conn = new Connection(this, this.makeId(slot), to, true, now);
    this.conns[slot] = conn;
    this.peerCount++;
    this.afterChange(conn, now);
    return conn;
  }

  /** Queues a message. Returns its id (used by delivery feedback hooks). */
  /**
   * Queues a message. Returns its id (used by delivery feedback hooks). Pass `now` (as for every
   * other input) so expiry deadlines count from the real send time; without it the time of the
   * endpoint's last input is used.
   */
  send(peer: Peer, channel: number, data: Uint8Array, options?: SendOptions, now?: number): number {
    if (now !== undefined) this.setNow(now);
    return this.sendInternal(peer, channel, data, options, false);
  }

  private sendInternal(peer: Peer, channel: number, data: Uint8Array, options: SendOptions | undefined, bypass: boolean): number {
    const conn = this.own(peer);
    if (conn.state !== "connected") {
      throw new FastnetError(ErrorCode.NOT_CONNECTED, `peer ${conn.id} is ${conn.state}, not connected`);
    }
    if (!Number.isInteger(channel) || channel < 0 || channel >= this.cfg.channels.length) {
      throw new FastnetError(ErrorCode.UNKNOWN_CHANNEL, `argument 'channel' must be an integer in [0, ${this.cfg.channels.length - 1}], got ${String(channel)}`);
    }
    if (!(data instanceof Uint8Array)) throw argError("data", "a Uint8Array", data);
    if (options !== undefined) {
      const e = options.expiresInMs;
      if (e !== undefined && (typeof e !== "number" || !(e >= 0))) throw argError("options.expiresInMs", "a number >= 0", e);
    }
    const id = conn.enqueue(this.now, channel, data, options, bypass);
    this.afterChange(conn, this.now);
    this.onOutput?.();
    return id;
  }

  /** Gracefully disconnects: reliable data still queued is delivered first (up to disconnectLingerMs). */
  disconnect(peer: Peer, now?: number): void {
    if (now !== undefined) this.setNow(now);
    const conn = this.own(peer);
    if (conn.state === "disconnected" || conn.state === "disconnecting") return;
    if (conn.state === "connecting" || conn.flushed()) {
      this.finish(conn, "closed-locally", true);
      return;
    }
    conn.beginDisconnect(this.now);
    this.afterChange(conn, this.now);
  }

  /** Closes every connection at once (peers are told), then refuses further use. */
  close(): void {
    if (this.closed) return;
    for (const conn of this.conns) {
      if (conn !== undefined && conn.state !== "disconnected") this.finish(conn, "closed-locally", true);
    }
    this.closed = true;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  peers(): Peer[] {
    const out: Peer[] = [];
    for (const c of this.conns) if (c !== undefined && c.state !== "disconnected") out.push(c);
    return out;
  }

  stats(): EndpointStats {
    return { ...this.counters, peers: this.peerCount, pendingHandshakes: this.pending, drops: { ...this.drops } };
  }

  // ---- Sans-IO inputs ----

  handleDatagram(now: number, from: Address, data: Uint8Array): void {
    this.setNow(now);
    this.counters.datagramsReceived++;
    this.counters.bytesReceived += data.length;
    this.process(now, from, data, Infinity);
    if (this.inbox.length === 0) return;
    for (let n = 0; n < MAX_INJECTED_PER_CALL && this.inbox.length > 0; n++) {
      const inj = this.inbox.shift()!;
      this.process(now, inj.from, inj.data, inj.beforeSlot);
    }
    this.inbox.clear();
  }

  private process(now: number, from: Address, data: Uint8Array, beforeSlot: number): void {
    if (this.closed) return this.drop("wrong-state", from, undefined);
    if (data.length < HEADER_SIZE) return this.drop("short", from, undefined);
    if (data.length > MAX_DATAGRAM) return this.drop("oversize", from, undefined);
    if (data[0] !== VERSION_BYTE) return this.drop("bad-version", from, undefined);
    const type = packetTypeOf(data);
    if (type < PacketType.CONNECT_REQUEST || type > PacketType.DISCONNECT) return this.drop("bad-type", from, undefined);
    const cid = connectionIdOf(data);
    let conn: Connection | undefined;
    if (type !== PacketType.CONNECT_REQUEST) {
      conn = this.lookup(cid);
      if (conn === undefined) return this.drop("unknown-connection", from, undefined);
      if (conn.address.port !== from.port || conn.address.host !== from.host) return this.drop("address-mismatch", from, conn);
    }
    let bytes: Uint8Array | null = data;
    const open = this.plugins.open;
    for (let i = 0; i < open.length && bytes !== null; i++) {
      if (open[i]!.ctx.slot < beforeSlot) bytes = open[i]!.fn(bytes, conn, from, open[i]!.ctx);
    }
    if (bytes === CONSUMED) return;
    if (bytes === null) return this.drop("plugin", from, conn);
    if (bytes.length < HEADER_SIZE) return this.drop("short", from, conn);
    switch (type) {
      case PacketType.CONNECT_REQUEST:
        return this.onRequest(now, from, bytes, data.length);
      case PacketType.DATA:
        return this.onDataPacket(now, from, conn!, bytes);
      case PacketType.CONNECT_ACCEPT:
        return this.onAccept(now, from, conn!, bytes);
      case PacketType.CONNECT_CHALLENGE:
        return this.onChallenge(now, from, conn!, bytes);
      case PacketType.CONNECT_DENY:
        return this.onDeny(from, conn!, bytes);
      case PacketType.DISCONNECT:
        return this.onDisconnect(from, conn!, bytes);
    }
  }

  handleTimeout(now: number): void {
    this.setNow(now);
    if (this.dirty.length > 0) this.settleDeadlines();
    const heap = this.heap;
    // Bounded: each connection is handled at most once per call.
    for (let budget = heap.length; budget > 0 && heap.length > 0 && heap[0]!.deadline <= now; budget--) {
      const conn = heap[0]!;
      const reason = conn.onTimeout(now);
      if (reason !== undefined) {
        const wasConnecting = conn.state === "connecting";
        this.finish(conn, reason, reason !== "handshake-timeout", !wasConnecting || conn.isClient);
      } else if (conn.wantsToSend(now)) {
        this.markReady(conn);
      }
      // Updated now, not lazily: the loop reads heap[0] next.
      if (conn.heapIndex >= 0) this.heapUpdate(conn, conn.nextDeadline());
    }
    const tick = this.plugins.tick;
    for (let i = 0; i < tick.length; i++) tick[i]!.fn(now, tick[i]!.ctx);
  }

  // ---- Sans-IO outputs ----

  /** Writes the next datagram into `buf` (at least mtu bytes). The returned object is reused. */
  pollTransmit(now: number, buf: Uint8Array): Transmit | null {
    this.setNow(now);
    for (;;) {
      // Plugin datagrams first; a seal hook may queue more while a packet below is sealed.
      for (let out = this.outbox.shift(); out !== undefined; out = this.outbox.shift()) {
        buf.set(out.data);
        let size = out.data.length;
        if (out.peer !== undefined) {
          if (out.peer.state === "disconnected") continue;
          size = this.seal(buf, size, out.peer, out.afterSlot ?? -1);
          if (size < 0) continue;
        }
        return this.emitTransmit(out.to, size);
      }
      const conn = this.readyList.peek();
      if (conn === undefined) return null;
      let size = conn.state === "disconnected" && conn.disconnectCopies === 0 ? 0 : conn.poll(now, buf);
      if (size > 0) {
        size = this.seal(buf, size, conn);
        if (conn.state === "disconnected" && conn.disconnectCopies === 0) this.release(conn);
        else this.afterChange(conn, now);
        if (size < 0) continue;
        return this.emitTransmit(conn.address, size);
      }
      this.readyList.shift();
      conn.ready = false;
      if (conn.state === "disconnected") this.release(conn);
      else this.markDirty(conn);
    }
  }

  pollEvent(): EndpointEvent<Peer> | undefined {
    return this.events.shift();
  }

  /** Absolute time of the next handleTimeout, ms; Infinity when none. */
  pollTimeout(): number {
    if (this.dirty.length > 0) this.settleDeadlines();
    let t = this.heap.length > 0 ? this.heap[0]!.deadline : Infinity;
    const dl = this.plugins.deadline;
    for (let i = 0; i < dl.length; i++) {
      const d = dl[i]!.fn();
      if (d < t) t = d;
    }
    return t;
  }

  // ---- ConnectionHost ----

  emit(event: EndpointEvent<Peer>): void {
    this.events.push(event);
  }

  drop(reason: DropReason, from: Address | undefined, peer: Peer | undefined): void {
    this.drops[reason]++;
    // `from` may be the driver's reused scratch address: copy it for observers that keep events.
    if (this.hasTrace) this.trace({ type: "drop", now: this.now, reason, ...(from ? { from: { host: from.host, port: from.port } } : {}), ...(peer ? { peer } : {}) });
  }

  trace(event: TraceEvent): void {
    const t = this.plugins.trace;
    for (let i = 0; i < t.length; i++) t[i]!.fn(event);
  }

  // ---- Packet handlers ----

  /** `wireLength`: the datagram's size as received, before plugins opened it; anti-amplification counts that. */
  private onRequest(now: number, from: Address, data: Uint8Array, wireLength: number): void {
    if (!this.cfg.acceptConnections) return this.drop("not-accepting", from, undefined);
    // Replies to tiny requests could amplify a spoofed-source attack.
    if (wireLength < REQUEST_MIN_SIZE || data.length < REQUEST_MIN_SIZE) return this.drop("short", from, undefined);
    const clientId = connectionIdOf(data);
    if (clientId === 0) return this.drop("malformed", from, undefined);
    const n = data[14]!;
    const payloadOff = REQUEST_FIXED - 2 + n;
    if (payloadOff + 2 > data.length) return this.drop("malformed", from, undefined);
    const payloadLen = readU16(data, payloadOff);
    if (payloadOff + 2 + payloadLen > data.length) return this.drop("malformed", from, undefined);
    const window = readU32(data, 6);
    const maxMessage = readU32(data, 10);
    if (window < 1024 || maxMessage < 1) return this.drop("malformed", from, undefined);

    const key = `${from.host}|${from.port}|${clientId}`;
    const existing = this.byHandshake.get(key);
    if (existing !== undefined) {
      // A retry: our accept was lost, or is still on its way.
      if (existing.state === "connecting") {
        existing.unvalidatedReceived += wireLength;
        existing.sendAccept = true;
        this.afterChange(existing, now);
      }
      return;
    }
    const budget = AMPLIFICATION_FACTOR * wireLength;
    let mismatch = n !== this.cfg.channels.length;
    for (let i = 0; i < n && !mismatch; i++) {
      if (data[15 + i] !== ChannelKindCode[this.cfg.channels[i]!.kind]) mismatch = true;
    }
    if (mismatch) return this.queueDeny(from, clientId, DenyCode.CHANNEL_MISMATCH, "channel configuration differs", budget);
    if (this.pending >= this.cfg.maxPendingHandshakes) return this.drop("handshake-limit", from, undefined);
    if (this.peerCount >= this.cfg.maxPeers) return this.queueDeny(from, clientId, DenyCode.SERVER_FULL, "server full", budget);

    const request = { from: { host: from.host, port: from.port }, clientId, payload: data.subarray(payloadOff + 2, payloadOff + 2 + payloadLen) };
    let decision: ConnectDecision = { accept: true };
    const hooks = this.plugins.connecting;
    const states = this.acceptStates;
    states.length = 0;
    for (let i = 0; i < hooks.length; i++) {
      decision = hooks[i]!.fn(request, hooks[i]!.ctx);
      if (!("accept" in decision) || !decision.accept) break;
      if (decision.state !== undefined) states.push(hooks[i]!.ctx.slot, decision.state);
    }
    if ("challenge" in decision) {
      const reply = new Uint8Array(CHALLENGE_FIXED + decision.challenge.length);
      writeHeader(reply, PacketType.CONNECT_CHALLENGE, 0, clientId);
      writeU16(reply, HEADER_SIZE, decision.challenge.length);
      reply.set(decision.challenge, CHALLENGE_FIXED);
      return this.queueStateless(from, reply, budget);
    }
    if (!decision.accept) return this.queueDeny(from, clientId, DenyCode.REJECTED, decision.reason, budget);

    const slot = this.allocSlot();
    if (slot < 0) return this.queueDeny(from, clientId, DenyCode.SERVER_FULL, "server full", budget);
    const conn = new Connection(this, this.makeId(slot), from, false, now);
    conn.remoteId = clientId;
    conn.peerWindowBytes = window;
    conn.peerMaxMessage = maxMessage;
    conn.unvalidatedReceived = wireLength;
    conn.sendAccept = true;
    for (let i = 0; i < states.length; i += 2) conn.slots[states[i] as number] = states[i + 1];
    this.conns[slot] = conn;
    this.peerCount++;
    this.pending++;
    this.byHandshake.set(key, conn);
    this.afterChange(conn, now);
  }

  private onAccept(now: number, from: Address, conn: Connection, data: Uint8Array): void {
    if (!conn.isClient || conn.state !== "connecting") return this.drop("wrong-state", from, conn);
    if (data.length < ACCEPT_FIXED) return this.drop("malformed", from, conn);
    const serverId = readU32(data, 6);
    const window = readU32(data, 10);
    const maxMessage = readU32(data, 14);
    if (serverId === 0 || window < 1024 || maxMessage < 1) return this.drop("malformed", from, conn);
    conn.onAccepted(now, serverId, window, maxMessage);
    this.connected(conn);
    this.afterChange(conn, now);
  }

  private onChallenge(now: number, from: Address, conn: Connection, data: Uint8Array): void {
    if (!conn.isClient || conn.state !== "connecting") return this.drop("wrong-state", from, conn);
    const len = data.length >= CHALLENGE_FIXED ? readU16(data, HEADER_SIZE) : -1;
    if (len < 0 || CHALLENGE_FIXED + len > data.length) return this.drop("malformed", from, conn);
    conn.challenge = data.slice(CHALLENGE_FIXED, CHALLENGE_FIXED + len);
    conn.nextHandshakeAt = now;
    this.afterChange(conn, now);
  }

  private onDeny(from: Address, conn: Connection, data: Uint8Array): void {
    if (!conn.isClient || conn.state !== "connecting") return this.drop("wrong-state", from, conn);
    if (data.length < DENY_FIXED) return this.drop("malformed", from, conn);
    const len = readU16(data, HEADER_SIZE + 1);
    const detail = new TextDecoder("utf-8", { fatal: false }).decode(data.subarray(DENY_FIXED, Math.min(data.length, DENY_FIXED + len)));
    this.finish(conn, "denied", false, true, detail);
  }

  private onDisconnect(from: Address, conn: Connection, data: Uint8Array): void {
    if (data.length < DISCONNECT_SIZE) return this.drop("malformed", from, conn);
    if (conn.state === "disconnected") return this.drop("wrong-state", from, conn);
    const code = data[DISCONNECT_SIZE - 1];
    const detail = code === DisconnectCode.timeout ? "peer timed out" : code === DisconnectCode["protocol-violation"] ? "protocol violation" : undefined;
    const wasVisible = conn.state !== "connecting" || conn.isClient;
    this.finish(conn, "closed-by-peer", false, wasVisible, detail);
  }

  private onDataPacket(now: number, from: Address, conn: Connection, data: Uint8Array): void {
    if (data.length < DATA_HEADER_SIZE) return this.drop("short", from, conn);
    if (conn.state === "disconnected") return this.drop("wrong-state", from, conn);
    if (conn.state === "connecting") {
      if (conn.isClient) return this.drop("wrong-state", from, conn);
      // The client used our id and address: it got the accept, so its address is validated.
      // Connected goes out before any message this packet carries.
      conn.onConfirmed(now);
      this.pending--;
      this.connected(conn);
    }
    conn.onData(now, data, from);
    this.afterChange(conn, now);
  }

  // ---- Helpers ----

  private connected(conn: Connection): void {
    this.emit({ type: "connected", peer: conn });
    if (this.hasTrace) this.trace({ type: "state", now: this.now, peer: conn, state: "connected" });
    const hooks = this.plugins.connected;
    for (let i = 0; i < hooks.length; i++) hooks[i]!.fn(conn, hooks[i]!.ctx);
  }

  /** Ends a connection: event (when the app knew of it), hooks, DISCONNECT copies when `notify`. */
  private finish(conn: Connection, reason: DisconnectReason, notify: boolean, visible = true, detail?: string): void {
    if (conn.state === "disconnected") return;
    if (conn.state === "connecting" && !conn.isClient) this.pending--;
    conn.close(reason, notify);
    if (visible) {
      this.emit(detail === undefined ? { type: "disconnected", peer: conn, reason } : { type: "disconnected", peer: conn, reason, detail });
      const hooks = this.plugins.disconnected;
      for (let i = 0; i < hooks.length; i++) hooks[i]!.fn(conn, reason, hooks[i]!.ctx);
    }
    if (this.hasTrace) this.trace({ type: "state", now: this.now, peer: conn, state: "disconnected", reason });
    if (conn.disconnectCopies > 0) this.markReady(conn);
    else this.release(conn);
  }

  /** Frees the slot once nothing more will be sent for this connection. */
  private release(conn: Connection): void {
    const slot = conn.id & 0xffff;
    if (this.conns[slot] !== conn) return;
    this.conns[slot] = undefined;
    // Kept until now so that a late copy of the connect request is recognised, not taken as new.
    if (!conn.isClient && this.byHandshake.get(handshakeKey(conn)) === conn) this.byHandshake.delete(handshakeKey(conn));
    this.free.push(slot);
    this.peerCount--;
    this.heapRemove(conn);
  }

  private queueDeny(to: Address, clientId: number, code: number, detail: string, budget: number): void {
    const text = DENY_TEXT.encode(detail).subarray(0, 200);
    const reply = new Uint8Array(DENY_FIXED + text.length);
    writeHeader(reply, PacketType.CONNECT_DENY, 0, clientId);
    reply[HEADER_SIZE] = code;
    writeU16(reply, HEADER_SIZE + 1, text.length);
    reply.set(text, DENY_FIXED);
    this.queueStateless(to, reply, budget);
  }

  /** A reply to an unvalidated address: never more than 3x what it sent (RFC 9000 §8.1). */
  private queueStateless(to: Address, data: Uint8Array, budget: number): void {
    const sealed = this.sealStateless(data);
    if (sealed === null) return;
    if (sealed.length > budget) return this.drop("amplification-limit", to, undefined);
    this.outbox.push({ to: { host: to.host, port: to.port }, data: sealed });
  }

  private sealStateless(data: Uint8Array): Uint8Array | null {
    if (this.plugins.seal.length === 0) return data;
    const buf = new Uint8Array(data.length + this.plugins.overhead);
    buf.set(data);
    const n = this.seal(buf, data.length, undefined);
    return n < 0 ? null : buf.subarray(0, n);
  }

  private seal(buf: Uint8Array, size: number, peer: Peer | undefined, afterSlot = -1): number {
    const seal = this.plugins.seal;
    for (let i = 0; i < seal.length && size >= 0; i++) {
      if (seal[i]!.ctx.slot > afterSlot) size = seal[i]!.fn(buf, size, peer, seal[i]!.ctx);
    }
    return size;
  }

  private emitTransmit(to: Address, size: number): Transmit {
    this.counters.datagramsSent++;
    this.counters.bytesSent += size;
    this.transmit.to = to;
    this.transmit.size = size;
    return this.transmit;
  }

  private afterChange(conn: Connection, now: number): void {
    if (conn.wantsToSend(now)) this.markReady(conn);
    this.markDirty(conn);
  }

  /**
   * A connection's deadline may have moved. Recomputed once, when pollTimeout or handleTimeout
   * next reads the heap, instead of after every send, packet in and packet out.
   */
  private markDirty(conn: Connection): void {
    if (conn.dirty) return;
    conn.dirty = true;
    this.dirty.push(conn);
  }

  private settleDeadlines(): void {
    const list = this.dirty;
    for (let i = 0; i < list.length; i++) {
      const conn = list[i]!;
      conn.dirty = false;
      if (this.conns[conn.id & 0xffff] === conn) this.heapUpdate(conn, conn.nextDeadline());
    }
    list.length = 0;
  }

  private markReady(conn: Connection): void {
    if (conn.ready) return;
    conn.ready = true;
    this.readyList.push(conn);
  }

  private lookup(cid: number): Connection | undefined {
    const conn = this.conns[cid & 0xffff];
    return conn !== undefined && conn.id === cid ? conn : undefined;
  }

  private allocSlot(): number {
    if (this.peerCount >= this.cfg.maxPeers) return -1;
    const s = this.free.pop();
    if (s !== undefined) return s;
    if (this.conns.length >= this.cfg.maxPeers) return -1;
    this.conns.push(undefined);
    return this.conns.length - 1;
  }

  /** Connection id: random nonzero 16-bit generation over the slot index, so stale ids miss. */
  private makeId(slot: number): number {
    let gen = 0;
    while (gen === 0) gen = randomU32(this.cfg.random, this.scratch4) & 0xffff;
    return ((gen << 16) | slot) >>> 0;
  }

  private own(peer: Peer): Connection {
    if (!(peer instanceof Connection) || this.conns[peer.id & 0xffff] !== peer) {
      if (peer instanceof Connection && peer.state === "disconnected") {
        throw new FastnetError(ErrorCode.NOT_CONNECTED, `peer ${peer.id} is disconnected`);
      }
      throw argError("peer", "a peer of this endpoint", peer);
    }
    return peer;
  }

  private assertOpen(): void {
    if (this.closed) throw new FastnetError(ErrorCode.CLOSED, "the endpoint is closed");
  }

  private setNow(now: number): void {
    if (now > this.now) this.now = now;
  }

  /** Datagram overhead of the plugins registered after `slot`. */
  private overheadAfter(slot: number): number {
    let n = 0;
    for (let i = slot + 1; i < this.plugins.plugins.length; i++) n += this.plugins.plugins[i]!.datagramOverhead ?? 0;
    return n;
  }

  private makeContext(slot: number): PluginContext {
    const self = this;
    return {
      slot,
      get now() {
        return self.now;
      },
      random: this.cfg.random,
      mtu: this.cfg.mtu,
      channelKind: (ch) => this.channelKind(ch),
      send: (peer, channel, data, options, now) => {
        if (now !== undefined) this.setNow(now);
        return this.sendInternal(peer, channel, data, options, true);
      },
      deliver: (peer, channel, data) => this.emit({ type: "message", peer, channel, data }),
      queueDatagram: (to, data) => {
        // pollTransmit's buffer is only guaranteed mtu bytes: a larger datagram would make it throw.
        if (!(data instanceof Uint8Array) || data.length > this.cfg.mtu) throw argError("data", `a Uint8Array of at most mtu (${this.cfg.mtu}) bytes`, data);
        this.outbox.push({ to: { host: to.host, port: to.port }, data: data.slice() });
      },
      sendDatagram: (peer, data) => {
        const conn = this.own(peer);
        if (!(data instanceof Uint8Array) || data.length + this.overheadAfter(slot) > this.cfg.mtu) {
          throw argError("data", `a Uint8Array that fits the mtu (${this.cfg.mtu}) with the overhead of later plugins`, data);
        }
        this.outbox.push({ to: conn.address, data: data.slice(), peer: conn, afterSlot: slot });
      },
      injectDatagram: (from, data) => {
        if (!(data instanceof Uint8Array)) throw argError("data", "a Uint8Array", data);
        this.inbox.push({ from: { host: from.host, port: from.port }, data: data.slice(), beforeSlot: slot });
      },
      countDrop: (reason, from) => this.drop(reason, from, undefined),
      disconnect: (peer) => this.disconnect(peer),
    };
  }

  // ---- Timer heap (min-heap on Connection.deadline, index kept in the connection) ----

  private heapUpdate(conn: Connection, deadline: number): void {
    if (deadline === Infinity) {
      this.heapRemove(conn);
      conn.deadline = Infinity;
      return;
    }
    const old = conn.deadline;
    conn.deadline = deadline;
    if (conn.heapIndex < 0) {
      conn.heapIndex = this.heap.length;
      this.heap.push(conn);
      this.siftUp(conn.heapIndex);
    } else if (deadline < old) {
      this.siftUp(conn.heapIndex);
    } else if (deadline > old) {
      this.siftDown(conn.heapIndex);
    }
  }

  private heapRemove(conn: Connection): void {
    const i = conn.heapIndex;
    if (i < 0) return;
    const last = this.heap.pop()!;
    conn.heapIndex = -1;
    if (last !== conn) {
      this.heap[i] = last;
      last.heapIndex = i;
      this.siftUp(i);
      this.siftDown(last.heapIndex);
    }
  }

  private siftUp(i: number): void {
    const h = this.heap;
    const x = h[i]!;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (h[p]!.deadline <= x.deadline) break;
      h[i] = h[p]!;
      h[i]!.heapIndex = i;
      i = p;
    }
    h[i] = x;
    x.heapIndex = i;
  }

  private siftDown(i: number): void {
    const h = this.heap;
    const n = h.length;
    const x = h[i]!;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && h[r]!.deadline < h[l]!.deadline ? r : l;
      if (h[c]!.deadline >= x.deadline) break;
      h[i] = h[c]!;
      h[i]!.heapIndex = i;
      i = c;
    }
    h[i] = x;
    x.heapIndex = i;
  }
}

function handshakeKey(conn: Connection): string {
  return `${conn.address.host}|${conn.address.port}|${conn.remoteId}`;
}
