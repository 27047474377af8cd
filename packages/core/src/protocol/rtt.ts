/**
 * Round-trip time estimation and retransmission timeout, RFC 6298 §2
 * (SRTT, RTTVAR, RTO = SRTT + max(G, 4*RTTVAR)), with the ack delay reported
 * by the peer subtracted as in RFC 9002 §5.3, and the minimum RTT tracked.
 * The RFC's 1 s RTO floor suits TCP bulk transfer, not games: the floor is a
 * configuration value (default 20 ms), see EndpointConfig.minRtoMs.
 */

export interface RttView {
  readonly smoothed: number;
  readonly variance: number;
  readonly min: number;
  readonly latest: number;
  readonly hasSample: boolean;
}

export class RttEstimator implements RttView {
  smoothed: number;
  variance: number;
  min = Infinity;
  latest = 0;
  hasSample = false;

  constructor(
    initialRttMs: number,
    private readonly minRtoMs: number,
    private readonly maxRtoMs: number,
    /** Clock granularity G, ms. */
    private readonly granularityMs = 1,
  ) {
    this.smoothed = initialRttMs;
    this.variance = initialRttMs / 2;
  }

  /** Feeds one sample: `sampleMs` measured send→ack, `ackDelayMs` as reported by the peer. */
  update(sampleMs: number, ackDelayMs: number): void {
    if (!(sampleMs >= 0)) return;
    this.latest = sampleMs;
    if (sampleMs < this.min) this.min = sampleMs;
    // Only subtract the peer's ack delay when the result stays above min RTT (RFC 9002 §5.3).
    const adjusted = sampleMs - ackDelayMs >= this.min ? sampleMs - ackDelayMs : sampleMs;
    if (!this.hasSample) {
      this.hasSample = true;
      this.smoothed = adjusted;
      this.variance = adjusted / 2;
      return;
    }
    this.variance = 0.75 * this.variance + 0.25 * Math.abs(this.smoothed - adjusted);
    this.smoothed = 0.875 * this.smoothed + 0.125 * adjusted;
  }

  /** RTO before backoff, clamped to [minRto, maxRto]. */
  rto(): number {
    const rto = this.smoothed + Math.max(this.granularityMs, 4 * this.variance);
    return Math.min(this.maxRtoMs, Math.max(this.minRtoMs, rto));
  }
}
