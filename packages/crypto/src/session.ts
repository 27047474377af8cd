/**
 * Per-session datagram protection state: one secret per direction from the
 * TLS 1.3 exporter (RFC 8446 §7.5), packet keys derived with
 * HKDF-Expand-Label, a 64-bit packet number per direction that never repeats
 * (nonce = direction || pn, RFC 8439 §2.8), a replay window (RFC 6479) and
 * key update with a one-bit key phase (modelled on RFC 9001 §6: forward-only
 * secrets, the previous receive key kept briefly for reordered packets, the
 * next receive key precomputed so a flip costs one derivation).
 */
import type { Aead } from "./aead.ts";
import { writeNonce } from "./aead.ts";
import { nextSecret, packetKey } from "./keys.ts";
import { ReplayWindow } from "./replay.ts";

export const DIRECTION_CLIENT_TO_SERVER = 0;
export const DIRECTION_SERVER_TO_CLIENT = 1;

export interface KeyUpdatePolicy {
  /** Update the send key after this many packets under it. */
  packets: number;
  /** ...or after this long, ms. */
  intervalMs: number;
  /** Keep the previous receive key this long after a flip, ms (reordered packets). */
  previousKeyTtlMs: number;
}

export const DEFAULT_KEY_UPDATE: KeyUpdatePolicy = {
  // ChaCha20-Poly1305 allows ~2^62 packets per key (RFC 9001 §6.6); updating every
  // million packets or 5 minutes keeps keys short-lived at negligible cost.
  packets: 1_000_000,
  intervalMs: 300_000,
  previousKeyTtlMs: 2_000,
};

export class SendKeys {
  phase = 0;
  /** Next packet number; never reused under any key of this direction. */
  pn = 0;
  key: Uint8Array;
  private secret: Uint8Array;
  packetsUnderKey = 0;
  keySince: number;
  /** Core sequence of the first DATA packet under the current key, -1 until one is sealed. */
  phaseStartSeq = -1;
  /** The peer acked a packet sent under the current key: it has the key, another update is safe. */
  confirmed = true;
  updates = 0;

  constructor(secret: Uint8Array, now: number) {
    this.secret = secret;
    this.key = packetKey(secret);
    this.keySince = now;
  }

  /** Flips to the next key when the policy says so and the last flip was confirmed. */
  maybeUpdate(now: number, policy: KeyUpdatePolicy): void {
    if (!this.confirmed) return;
    if (this.packetsUnderKey < policy.packets && now - this.keySince < policy.intervalMs) return;
    this.secret = nextSecret(this.secret);
    this.key = packetKey(this.secret);
    this.phase ^= 1;
    this.packetsUnderKey = 0;
    this.keySince = now;
    this.phaseStartSeq = -1;
    this.confirmed = false;
    this.updates++;
  }
}

export class RecvKeys {
  phase = 0;
  key: Uint8Array;
  /** Lowest packet number opened with the current key: older packets with the other phase bit are from the previous key. */
  minPn = Infinity;
  private nextSecretValue: Uint8Array;
  nextKey: Uint8Array;
  previousKey: Uint8Array | undefined;
  previousExpiresAt = -Infinity;
  readonly replay = new ReplayWindow(2048);
  updates = 0;

  constructor(secret: Uint8Array) {
    this.key = packetKey(secret);
    this.nextSecretValue = nextSecret(secret);
    this.nextKey = packetKey(this.nextSecretValue);
  }

  /** The peer moved to the next key: keep the current one as previous for a while. */
  promote(now: number, pn: number, ttlMs: number): void {
    this.previousKey = this.key;
    this.previousExpiresAt = now + ttlMs;
    this.key = this.nextKey;
    this.phase ^= 1;
    this.minPn = pn;
    this.nextSecretValue = nextSecret(this.nextSecretValue);
    this.nextKey = packetKey(this.nextSecretValue);
    this.updates++;
  }
}

/** Why a datagram failed to open; counted by the plugin. */
export type OpenFailure = "short" | "auth" | "replay" | "old-key" | "unknown-session" | "no-session";

export interface SessionStats {
  sealed: number;
  opened: number;
  failures: Record<OpenFailure, number>;
  sendKeyUpdates: number;
  recvKeyUpdates: number;
}

/** Keys and counters of one secured UDP session, from one side's point of view. */
export class Session {
  readonly send: SendKeys;
  readonly recv: RecvKeys;
  readonly sendDirection: number;
  readonly recvDirection: number;
  readonly nonce = new Uint8Array(12);

  constructor(
    /** Server-chosen handle that names this session in the client's first datagram. */
    readonly handle: number,
    /** One-time token issued over TLS; the client's connect request must carry it. */
    readonly token: Uint8Array,
    readonly isClient: boolean,
    clientToServer: Uint8Array,
    serverToClient: Uint8Array,
    now: number,
    /** When an unbound session is forgotten, ms. */
    readonly expiresAt: number,
  ) {
    this.sendDirection = isClient ? DIRECTION_CLIENT_TO_SERVER : DIRECTION_SERVER_TO_CLIENT;
    this.recvDirection = isClient ? DIRECTION_SERVER_TO_CLIENT : DIRECTION_CLIENT_TO_SERVER;
    this.send = new SendKeys(isClient ? clientToServer : serverToClient, now);
    this.recv = new RecvKeys(isClient ? serverToClient : clientToServer);
  }

  /** Seals buf[ctStart, ctStart+len) in place with AD = buf[0, ctStart); returns the new end. */
  seal(aead: Aead, buf: Uint8Array, adEnd: number, len: number, pn: number): number {
    writeNonce(this.nonce, this.sendDirection, pn);
    return adEnd + aead.sealPacket(this.send.key, this.nonce, buf, adEnd, len);
  }

  /**
   * Opens a datagram whose ciphertext is src[adEnd, end) with AD src[0, adEnd), choosing the key by phase bit
   * and packet number; the plaintext goes to dst at dstOff (src is not written). Returns the plaintext length
   * or a failure. Records pn on success.
   */
  open(
    aead: Aead, src: Uint8Array, adEnd: number, end: number, dst: Uint8Array, dstOff: number,
    phase: number, pn: number, now: number, ttlMs: number,
  ): number | OpenFailure {
    const r = this.recv;
    if (!r.replay.check(pn)) return "replay";
    writeNonce(this.nonce, this.recvDirection, pn);
    let n: number;
    if (phase === r.phase) {
      n = aead.openPacket(r.key, this.nonce, src, adEnd, end, dst, dstOff);
      if (n >= 0 && pn < r.minPn) r.minPn = pn;
    } else if (r.previousKey !== undefined && pn < r.minPn) {
      // A reordered packet from before the last flip.
      if (now > r.previousExpiresAt) return "old-key";
      n = aead.openPacket(r.previousKey, this.nonce, src, adEnd, end, dst, dstOff);
    } else {
      n = aead.openPacket(r.nextKey, this.nonce, src, adEnd, end, dst, dstOff);
      if (n >= 0) r.promote(now, pn, ttlMs);
    }
    if (n < 0) return "auth";
    r.replay.accept(pn);
    return n;
  }
}
