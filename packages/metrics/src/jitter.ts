/**
 * RFC 3550 §6.4.1 interarrival jitter: for packets i-1 and i with send times
 * S and receive times R, the transit difference is
 *
 *   D(i-1, i) = (R_i - R_{i-1}) - (S_i - S_{i-1}) = transit_i - transit_{i-1}
 *
 * and the running estimate moves 1/16 of the way towards |D| per packet:
 *
 *   J(i) = J(i-1) + (|D(i-1, i)| - J(i-1)) / 16
 *
 * The 1/16 gain is the RFC's noise-reduction choice. Units are whatever the
 * transits are in (here: ms). Pure arithmetic, no allocation.
 */

/** The RFC 3550 gain: the estimate moves 1/16 of the way towards each new |D|. */
export const JITTER_GAIN = 1 / 16;

/** D(i-1, i) from the send and receive times of two consecutive packets. */
export function transitDifference(sentPrev: number, receivedPrev: number, sent: number, received: number): number {
  return received - receivedPrev - (sent - sentPrev);
}

/** One step of the estimator: the new jitter after a packet whose transit differs from the previous one by `d`. */
export function jitterStep(jitter: number, d: number): number {
  return jitter + (Math.abs(d) - jitter) * JITTER_GAIN;
}

/**
 * Running RFC 3550 jitter over a stream of transit times (receive minus send,
 * any constant clock offset cancels out). The first transit only primes it.
 */
export class JitterEstimator {
  /** Current estimate, same unit as the transits. */
  jitter = 0;
  private last = 0;
  private primed = false;

  /** Feeds one transit time; returns the updated estimate. */
  update(transit: number): number {
    if (this.primed) this.jitter = jitterStep(this.jitter, transit - this.last);
    else this.primed = true;
    this.last = transit;
    return this.jitter;
  }

  reset(): void {
    this.jitter = 0;
    this.last = 0;
    this.primed = false;
  }
}
