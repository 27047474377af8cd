/**
 * Congestion control slot and the default controller: NewReno-style window
 * (RFC 9002 §7 / RFC 6582: slow start, congestion avoidance, one halving per
 * recovery period) plus a token-bucket pacer (RFC 9002 §7.7) that lets a
 * burst of up to 10 packets leave at once so game ticks are never delayed,
 * and spreads larger bursts over the RTT.
 */
import type { RttView } from "./rtt.ts";

/** A congestion controller. One per peer; the endpoint owns bytes-in-flight accounting. */
export interface CongestionController {
  readonly name: string;
  /** Congestion window, bytes. */
  window(): number;
  onPacketSent(now: number, bytes: number): void;
  onPacketAcked(now: number, bytes: number, sentAt: number, rtt: RttView): void;
  /** A packet sent at `sentAt` was declared lost. */
  onPacketLost(now: number, bytes: number, sentAt: number): void;
  /** The retransmission timer fired with nothing acked (persistent congestion). */
  onRetransmissionTimeout(now: number): void;
  /** Earliest time a packet of `bytes` may be sent (pacing); `<= now` means now. */
  nextSendTime(now: number, bytes: number, rtt: RttView): number;
}

export interface NewRenoOptions {
  /** Max datagram size, bytes. */
  mtu: number;
  /** Initial window in packets (RFC 9002: 10). */
  initialWindowPackets?: number;
  /** Minimum window in packets (RFC 9002: 2). */
  minWindowPackets?: number;
  /** Packets that may leave back to back before pacing applies. */
  burstPackets?: number;
  /** Pacing rate = gain * window / srtt (RFC 9002 §7.7 suggests 1.25). */
  pacingGain?: number;
  /**
   * Largest window, bytes. Default 16 MiB: on a loopback with no loss slow start would otherwise
   * grow without bound (135 MB was seen) and the eventual burst overflows the receiver's socket.
   */
  maxWindowBytes?: number;
}

export class NewReno implements CongestionController {
  readonly name = "newreno";
  private cwnd: number;
  private ssthresh = Infinity;
  private recoveryStart = -Infinity;
  private ackedInAvoidance = 0;
  private readonly mtu: number;
  private readonly minWindow: number;
  private readonly burstBytes: number;
  private readonly gain: number;
  private readonly maxWindow: number;
  private tokens: number;
  private lastRefill = -1;

  constructor(opts: NewRenoOptions) {
    this.mtu = opts.mtu;
    this.cwnd = (opts.initialWindowPackets ?? 10) * opts.mtu;
    this.minWindow = (opts.minWindowPackets ?? 2) * opts.mtu;
    this.burstBytes = (opts.burstPackets ?? 10) * opts.mtu;
    this.gain = opts.pacingGain ?? 1.25;
    this.maxWindow = opts.maxWindowBytes ?? 16 << 20;
    this.tokens = this.burstBytes;
  }

  window(): number {
    return this.cwnd;
  }

  onPacketSent(_now: number, bytes: number): void {
    this.tokens -= bytes;
  }

  onPacketAcked(_now: number, bytes: number, sentAt: number, _rtt: RttView): void {
    if (sentAt <= this.recoveryStart) return;
    if (this.cwnd < this.ssthresh) {
      this.cwnd = Math.min(this.maxWindow, this.cwnd + bytes);
      return;
    }
    // Congestion avoidance: one MTU per window of acked bytes.
    this.ackedInAvoidance += bytes;
    if (this.ackedInAvoidance >= this.cwnd) {
      this.ackedInAvoidance -= this.cwnd;
      this.cwnd = Math.min(this.maxWindow, this.cwnd + this.mtu);
    }
  }

  onPacketLost(now: number, _bytes: number, sentAt: number): void {
    // One reduction per recovery period: losses of packets sent before it began do not count again.
    if (sentAt <= this.recoveryStart) return;
    this.recoveryStart = now;
    this.cwnd = Math.max(this.minWindow, Math.floor(this.cwnd / 2));
    this.ssthresh = this.cwnd;
    this.ackedInAvoidance = 0;
  }

  onRetransmissionTimeout(now: number): void {
    this.recoveryStart = now;
    this.ssthresh = Math.max(this.minWindow, Math.floor(this.cwnd / 2));
    this.cwnd = this.minWindow;
  }

  nextSendTime(now: number, bytes: number, rtt: RttView): number {
    const rateBytesPerMs = (this.gain * this.cwnd) / Math.max(rtt.smoothed, 0.001);
    if (this.lastRefill < 0) this.lastRefill = now;
    this.tokens = Math.min(this.burstBytes, this.tokens + (now - this.lastRefill) * rateBytesPerMs);
    this.lastRefill = now;
    if (this.tokens >= bytes) return now;
    return now + (bytes - this.tokens) / rateBytesPerMs;
  }
}
