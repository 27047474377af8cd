/**
 * The datagram-layer crypto plugin: seals every datagram with
 * ChaCha20-Poly1305 (RFC 8439) after the handshake, the cleartext header as
 * associated data, and fills core's secure-handshake slot.
 *
 * Sealed layout (PROTOCOL.md "Secure datagrams"):
 *   CONNECT_REQUEST  header(6) handle(4) pn(8) ciphertext tag(16)   AD = first 18 bytes
 *   everything else  header(6) pn(8) ciphertext tag(16)             AD = first 14 bytes
 * Byte 1 bit 0x80 is the sender's key phase. The server finds the session of
 * a CONNECT_REQUEST by its handle (issued over TLS); every other datagram is
 * found by core through its connection id before this plugin runs.
 */
import type { Address, ConnectDecision, ConnectRequest, Peer, Plugin, PluginContext } from "@fastnet/core/protocol";
import { seqDiff, wire } from "@fastnet/core/protocol";
import { type Aead, TAG_SIZE } from "./aead.ts";
import { defaultAead } from "./sodium-ffi.ts";
import { DEFAULT_KEY_UPDATE, type KeyUpdatePolicy, type OpenFailure, Session } from "./session.ts";

export const FLAG_KEY_PHASE = 0x80;
const PN_SIZE = 8;
const HANDLE_SIZE = 4;
/** Largest overhead: a connect request carries the handle too. */
export const CRYPTO_OVERHEAD = HANDLE_SIZE + PN_SIZE + TAG_SIZE;
const H = wire.HEADER_SIZE;
const CACHED_VIEW_MAX = 2048;

export interface CryptoPluginOptions {
  aead?: Aead;
  keyUpdate?: Partial<KeyUpdatePolicy>;
}

export interface CryptoStats {
  sealed: number;
  opened: number;
  /** Datagrams that failed to open, by reason. */
  failures: Record<OpenFailure, number>;
  sendKeyUpdates: number;
  recvKeyUpdates: number;
}

function writePn(buf: Uint8Array, off: number, pn: number): void {
  const hi = Math.floor(pn / 0x100000000);
  wire.writeU32(buf, off, hi);
  wire.writeU32(buf, off + 4, pn >>> 0);
}

function readPn(buf: Uint8Array, off: number): number {
  return wire.readU32(buf, off) * 0x100000000 + wire.readU32(buf, off + 4);
}

abstract class CryptoPlugin implements Plugin {
  readonly name = "fastnet-crypto";
  readonly datagramOverhead = CRYPTO_OVERHEAD;
  readonly secureHandshake = true;
  readonly aead: Aead;
  readonly policy: KeyUpdatePolicy;
  readonly stats: CryptoStats = {
    sealed: 0,
    opened: 0,
    failures: { short: 0, auth: 0, replay: 0, "old-key": 0, "unknown-session": 0, "no-session": 0 },
    sendKeyUpdates: 0,
    recvKeyUpdates: 0,
  };
  protected slot = -1;
  /** Opened datagrams are decrypted here, not in the caller's buffer. */
  private readonly scratch = new Uint8Array(wire.MAX_DATAGRAM + 64);
  /** scratch[0, n) by n: core gets a view per opened datagram, and these are the same few lengths over and over. */
  private readonly opened: Uint8Array[] = [];

  constructor(options: CryptoPluginOptions = {}) {
    this.aead = options.aead ?? defaultAead();
    this.policy = { ...DEFAULT_KEY_UPDATE, ...options.keyUpdate };
  }

  init(ctx: PluginContext): void {
    this.slot = ctx.slot;
  }

  /** The session keying datagrams to or from `peer` (undefined peer: a stateless handshake reply). */
  protected abstract sessionFor(peer: Peer | undefined): Session | undefined;

  sealDatagram(buf: Uint8Array, length: number, peer: Peer | undefined, ctx: PluginContext): number {
    const session = this.sessionFor(peer);
    if (session === undefined) return -1;
    const send = session.send;
    const before = send.phase;
    send.maybeUpdate(ctx.now, this.policy);
    if (send.phase !== before) this.stats.sendKeyUpdates++;
    const type = buf[1]! & wire.TYPE_MASK;
    const pn = send.pn++;
    const bodyLen = length - H;
    let adEnd: number;
    if (type === wire.PacketType.CONNECT_REQUEST) {
      adEnd = H + HANDLE_SIZE + PN_SIZE;
      buf.copyWithin(adEnd, H, length);
      wire.writeU32(buf, H, session.handle);
      writePn(buf, H + HANDLE_SIZE, pn);
    } else {
      if (type === wire.PacketType.DATA && send.phaseStartSeq < 0) send.phaseStartSeq = wire.readU16(buf, wire.OFF_SEQ);
      adEnd = H + PN_SIZE;
      buf.copyWithin(adEnd, H, length);
      writePn(buf, H, pn);
    }
    buf[1] = (buf[1]! & ~FLAG_KEY_PHASE) | (send.phase === 1 ? FLAG_KEY_PHASE : 0);
    send.packetsUnderKey++;
    this.stats.sealed++;
    return session.seal(this.aead, buf, adEnd, bodyLen, pn);
  }

  openDatagram(data: Uint8Array, peer: Peer | undefined, _from: Address, ctx: PluginContext): Uint8Array | null {
    const type = data[1]! & wire.TYPE_MASK;
    const isRequest = type === wire.PacketType.CONNECT_REQUEST;
    const session = isRequest ? this.requestSession(data, ctx.now) : this.sessionFor(peer);
    if (session === undefined) {
      this.stats.failures[isRequest ? "unknown-session" : "no-session"]++;
      return null;
    }
    const adEnd = isRequest ? H + HANDLE_SIZE + PN_SIZE : H + PN_SIZE;
    if (data.length < adEnd + TAG_SIZE) {
      this.stats.failures.short++;
      return null;
    }
    const pn = readPn(data, adEnd - PN_SIZE);
    const phase = (data[1]! & FLAG_KEY_PHASE) !== 0 ? 1 : 0;
    const buf = this.scratch;
    const recvUpdates = session.recv.updates;
    // Decrypted straight from the received bytes into scratch after the header: no copy of the datagram first.
    const n = session.open(this.aead, data, adEnd, data.length, buf, H, phase, pn, ctx.now, this.policy.previousKeyTtlMs);
    if (typeof n !== "number") {
      this.stats.failures[n]++;
      return null;
    }
    if (session.recv.updates !== recvUpdates) this.stats.recvKeyUpdates++;
    this.stats.opened++;
    // Back to core's layout: the cleartext header, then the plaintext body.
    for (let i = 0; i < H; i++) buf[i] = data[i]!;
    const len = H + n;
    let out = this.opened[len];
    if (out === undefined) {
      out = buf.subarray(0, len);
      // Bounded: MTU-sized datagrams are the hot path; larger ones (rare) get a fresh view.
      if (len <= CACHED_VIEW_MAX) this.opened[len] = out;
    }
    // The peer acked a packet sent under our current key: it holds that key, the next update is safe.
    const send = session.send;
    if (!send.confirmed && type === wire.PacketType.DATA && (out[1]! & wire.FLAG_HAS_ACK) !== 0 && send.phaseStartSeq >= 0 && out.length >= wire.DATA_HEADER_SIZE) {
      if (seqDiff(wire.readU16(out, wire.OFF_ACK), send.phaseStartSeq) >= 0) send.confirmed = true;
    }
    if (isRequest) this.onRequestOpened(session);
    return out;
  }

  /** Server: the session a connect request names. Client: none (clients never get requests). */
  protected abstract requestSession(data: Uint8Array, now: number): Session | undefined;
  protected onRequestOpened(_session: Session): void {}
}

/** Client side: one session, from the TLS handshake. */
export class CryptoClientPlugin extends CryptoPlugin {
  constructor(readonly session: Session, options?: CryptoPluginOptions) {
    super(options);
  }

  protected sessionFor(): Session | undefined {
    return this.session;
  }

  protected requestSession(): Session | undefined {
    return undefined;
  }

  connectPayload(): Uint8Array {
    return this.session.token;
  }
}

/** Server side: sessions from the TLS listener, bound to a peer on its first authenticated datagram. */
export class CryptoServerPlugin extends CryptoPlugin {
  private readonly pending = new Map<number, { session: Session; close: () => void }>();
  /** The session of the connect request being processed: set by openDatagram, read by onConnecting and stateless replies. */
  private current: Session | undefined;
  private nextSweep = 0;

  /** Called by the TLS listener for every completed handshake. */
  addSession(session: Session, close: () => void): void {
    this.pending.set(session.handle, { session, close });
  }

  get pendingSessions(): number {
    return this.pending.size;
  }

  protected sessionFor(peer: Peer | undefined): Session | undefined {
    if (peer === undefined) return this.current;
    return peer.slots[this.slot] as Session | undefined;
  }

  protected requestSession(data: Uint8Array, now: number): Session | undefined {
    this.current = undefined;
    if (data.length < H + HANDLE_SIZE) return undefined;
    const entry = this.pending.get(wire.readU32(data, H));
    if (entry === undefined || entry.session.expiresAt < now) return undefined;
    return entry.session;
  }

  protected override onRequestOpened(session: Session): void {
    this.current = session;
  }

  onConnecting(request: ConnectRequest, _ctx: PluginContext): ConnectDecision {
    const session = this.current;
    if (session === undefined) return { accept: false, reason: "unauthenticated" };
    if (!constantTimeEqual(request.payload, session.token)) return { accept: false, reason: "bad token" };
    return { accept: true, state: session };
  }

  onConnected(peer: Peer): void {
    const session = peer.slots[this.slot] as Session | undefined;
    if (session === undefined) return;
    const entry = this.pending.get(session.handle);
    if (entry === undefined) return;
    // Bound: the token is spent; the TLS connection has done its job.
    this.pending.delete(session.handle);
    entry.close();
  }

  onTick(now: number): void {
    if (now < this.nextSweep) return;
    this.nextSweep = now + 1000;
    for (const [handle, entry] of this.pending) {
      if (entry.session.expiresAt < now) {
        this.pending.delete(handle);
        entry.close();
      }
    }
  }

  nextDeadline(): number {
    return this.pending.size > 0 ? this.nextSweep : Infinity;
  }
}

function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}
