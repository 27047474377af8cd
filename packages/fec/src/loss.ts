/**
 * Receiver-side loss meter: the fraction of the peer's DATA datagrams that did
 * not arrive, from gaps in the core's 16-bit packet sequence numbers. It sees
 * only datagrams that arrived over the wire (FEC-recovered ones are injected
 * below it), so it measures the raw link loss that FEC has to cover, not the
 * residual loss after recovery: adapting to the residual would switch FEC off
 * exactly because it works.
 *
 * Windows of WINDOW sequence numbers give one sample each; samples are
 * smoothed with an EWMA (weight 1/4). Duplicates are ignored (a 256-entry
 * ring of recent sequence numbers). O(1) per datagram, no allocation.
 */

const WINDOW = 128;
const RING = 256;
/** A jump larger than this (garbage, or a very long outage) restarts the window. */
const MAX_JUMP = 4096;

export class LossMeter {
  private readonly seen = new Int32Array(RING).fill(-1);
  private maxSeq = -1;
  private base = 0;
  private received = 0;
  /** Smoothed loss in [0, 1], or -1 before the first sample. */
  loss = -1;
  samples = 0;

  /** Records an arrived sequence number (0..65535). */
  onSeq(seq: number): void {
    if (this.maxSeq < 0) {
      this.restart(seq);
      return;
    }
    const slot = seq & (RING - 1);
    if (this.seen[slot] === seq) return;
    const d = ((seq - this.maxSeq) << 16) >> 16;
    if (d > MAX_JUMP || d < -MAX_JUMP) {
      this.restart(seq);
      return;
    }
    this.seen[slot] = seq;
    this.received++;
    if (d > 0) this.maxSeq = seq;
    const span = (((this.maxSeq - this.base) << 16) >> 16) + 1;
    if (span >= WINDOW) {
      let sample = 1 - this.received / span;
      if (sample < 0) sample = 0;
      this.loss = this.loss < 0 ? sample : this.loss + (sample - this.loss) / 4;
      this.samples++;
      this.base = (this.maxSeq + 1) & 0xffff;
      this.received = 0;
    }
  }

  private restart(seq: number): void {
    this.seen.fill(-1);
    this.seen[seq & (RING - 1)] = seq;
    this.maxSeq = seq;
    this.base = seq;
    this.received = 1;
  }
}
