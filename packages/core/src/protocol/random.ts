/**
 * Seeded pseudo-random source (xoshiro128**, Blackman & Vigna 2018) for tests
 * and the simulator: same seed, same sequence. Not cryptographic: drivers
 * inject a CSPRNG (crypto.getRandomValues) for real endpoints.
 */
import type { RandomSource } from "./types.ts";

export class SeededRandom implements RandomSource {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    // splitmix32 expands the seed so that small seeds give well-mixed state.
    let s = seed >>> 0;
    const next = (): number => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = next();
    if ((this.a | this.b | this.c | this.d) === 0) this.a = 1;
  }

  /** Uniform 32-bit unsigned integer. */
  nextU32(): number {
    const result = Math.imul(rotl(Math.imul(this.b, 5), 7), 9) >>> 0;
    const t = this.b << 9;
    this.c ^= this.a;
    this.d ^= this.b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = rotl(this.d, 11);
    return result;
  }

  /** Uniform float in [0, 1). */
  nextFloat(): number {
    return this.nextU32() / 4294967296;
  }

  /** Uniform integer in [0, n). */
  nextInt(n: number): number {
    return Math.floor(this.nextFloat() * n);
  }

  fill(out: Uint8Array): void {
    for (let i = 0; i < out.length; i += 4) {
      const v = this.nextU32();
      out[i] = v & 0xff;
      if (i + 1 < out.length) out[i + 1] = (v >>> 8) & 0xff;
      if (i + 2 < out.length) out[i + 2] = (v >>> 16) & 0xff;
      if (i + 3 < out.length) out[i + 3] = v >>> 24;
    }
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** Reads a uint32 from a RandomSource, using a scratch buffer. */
export function randomU32(random: RandomSource, scratch: Uint8Array): number {
  random.fill(scratch);
  return ((scratch[0]! << 24) | (scratch[1]! << 16) | (scratch[2]! << 8) | scratch[3]!) >>> 0;
}
