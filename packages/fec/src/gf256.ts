/**
 * GF(2^8) arithmetic and the erasure code of the Reed-Solomon mode.
 *
 * Field: polynomial x^8 + x^4 + x^3 + x^2 + 1 (0x11d), generator 2. A full
 * 64 KiB multiplication table turns the inner loop into one lookup per byte.
 *
 * Code: systematic, data shards are sent as they are; parity row j over data
 * shard i uses the coefficient
 *
 *   C[j][i] = (x0 + y_i) / (x_j + y_i),   x_j = 255 - j,  y_i = i
 *
 * i.e. the Cauchy matrix 1 / (x_j + y_i) with every column scaled so that row 0
 * is all ones. Any square submatrix of a Cauchy matrix is invertible and column
 * scaling keeps that true, so any k of the k + m shards rebuild the group (MDS).
 * Row 0 being all ones makes parity 0 the plain XOR of the data shards, so the
 * XOR mode is the m = 1 case of the same code. The coefficients do not depend
 * on k, so a group can be closed early (a partial group) without re-encoding.
 */

export const GF_POLY = 0x11d;
/** Largest data index (exclusive) and parity row (exclusive) the coefficients are defined for. */
export const GF_MAX_DATA = 128;
export const GF_MAX_PARITY = 64;

export const EXP = new Uint8Array(512);
export const LOG = new Uint8Array(256);
/** MUL[(a << 8) | b] = a * b. */
export const MUL = new Uint8Array(65536);

{
  let x = 1;
  for (let i = 0; i < 255; i++) {
    EXP[i] = x;
    LOG[x] = i;
    x <<= 1;
    if (x & 0x100) x ^= GF_POLY;
  }
  for (let i = 255; i < 512; i++) EXP[i] = EXP[i - 255]!;
  for (let a = 1; a < 256; a++) {
    const la = LOG[a]!;
    for (let b = 1; b < 256; b++) MUL[(a << 8) | b] = EXP[la + LOG[b]!]!;
  }
}

export function gfMul(a: number, b: number): number {
  return MUL[((a & 0xff) << 8) | (b & 0xff)]!;
}

/** Multiplicative inverse; `a` must not be 0. */
export function gfInv(a: number): number {
  return EXP[255 - LOG[a]!]!;
}

export function gfDiv(a: number, b: number): number {
  if (a === 0) return 0;
  return EXP[LOG[a]! + 255 - LOG[b]!]!;
}

/** COEF[j * GF_MAX_DATA + i] = C[j][i] (see the file comment). */
const COEF = new Uint8Array(GF_MAX_PARITY * GF_MAX_DATA);
for (let j = 0; j < GF_MAX_PARITY; j++) {
  for (let i = 0; i < GF_MAX_DATA; i++) COEF[j * GF_MAX_DATA + i] = gfDiv(255 ^ i, (255 - j) ^ i);
}

/** Coefficient of data shard `i` in parity row `j`. */
export function coefficient(j: number, i: number): number {
  return COEF[j * GF_MAX_DATA + i]!;
}

/** dst[d + t] ^= c * src[s + t] for t in [0, len). */
export function mulAddInto(dst: Uint8Array, d: number, src: Uint8Array, s: number, len: number, c: number): void {
  if (c === 0 || len <= 0) return;
  if (c === 1) {
    for (let t = 0; t < len; t++) dst[d + t]! ^= src[s + t]!;
    return;
  }
  const base = c << 8;
  let t = 0;
  for (; t + 4 <= len; t += 4) {
    dst[d + t] = dst[d + t]! ^ MUL[base | src[s + t]!]!;
    dst[d + t + 1] = dst[d + t + 1]! ^ MUL[base | src[s + t + 1]!]!;
    dst[d + t + 2] = dst[d + t + 2]! ^ MUL[base | src[s + t + 2]!]!;
    dst[d + t + 3] = dst[d + t + 3]! ^ MUL[base | src[s + t + 3]!]!;
  }
  for (; t < len; t++) dst[d + t] = dst[d + t]! ^ MUL[base | src[s + t]!]!;
}

/**
 * Inverts the n x n matrix `a` (row-major, modified in place) into `out`.
 * Returns false when it is singular (never for a Cauchy submatrix).
 */
export function invertMatrix(a: Uint8Array, out: Uint8Array, n: number): boolean {
  out.fill(0, 0, n * n);
  for (let i = 0; i < n; i++) out[i * n + i] = 1;
  for (let col = 0; col < n; col++) {
    let pivot = col;
    while (pivot < n && a[pivot * n + col] === 0) pivot++;
    if (pivot === n) return false;
    if (pivot !== col) {
      for (let t = 0; t < n; t++) {
        const x = a[col * n + t]!;
        a[col * n + t] = a[pivot * n + t]!;
        a[pivot * n + t] = x;
        const y = out[col * n + t]!;
        out[col * n + t] = out[pivot * n + t]!;
        out[pivot * n + t] = y;
      }
    }
    const inv = gfInv(a[col * n + col]!);
    for (let t = 0; t < n; t++) {
      a[col * n + t] = gfMul(a[col * n + t]!, inv);
      out[col * n + t] = gfMul(out[col * n + t]!, inv);
    }
    for (let r = 0; r < n; r++) {
      if (r === col) continue;
      const f = a[r * n + col]!;
      if (f === 0) continue;
      for (let t = 0; t < n; t++) {
        a[r * n + t]! ^= gfMul(f, a[col * n + t]!);
        out[r * n + t]! ^= gfMul(f, out[col * n + t]!);
      }
    }
  }
  return true;
}

/**
 * Encodes parity shard `row` of a group: out[0, len) = sum over i of C[row][i] * data[i][0, len)
 * (shards shorter than len count as zero-padded). Used by tests and the benchmark; the plugin
 * encodes incrementally with mulAddInto as each datagram leaves.
 */
export function encodeParity(row: number, data: readonly Uint8Array[], out: Uint8Array, len: number): void {
  out.fill(0, 0, len);
  for (let i = 0; i < data.length; i++) {
    const d = data[i]!;
    mulAddInto(out, 0, d, 0, Math.min(len, d.length), coefficient(row, i));
  }
}

const scratchA = new Uint8Array(GF_MAX_PARITY * GF_MAX_PARITY);
const scratchInv = new Uint8Array(GF_MAX_PARITY * GF_MAX_PARITY);

/**
 * Rebuilds missing data shards in place.
 *
 * - `shards[i]` for i < k: data shard i (buffers of at least `len` bytes, zero-padded past their
 *   length); `present[i]` says whether it arrived.
 * - `parity[r]` is the parity shard of row `parityRows[r]` (at least `len` bytes).
 * - On return the missing data shards hold their bytes in [0, len). Uses at most as many parity
 *   shards as there are missing data shards. Returns false when too few parity shards arrived.
 *
 * Cost: O(e * k * len) for e missing shards; only paid when something was lost.
 */
export function decode(
  k: number,
  shards: Uint8Array[],
  present: readonly boolean[],
  parity: readonly Uint8Array[],
  parityRows: readonly number[],
  len: number,
): boolean {
  const missing: number[] = [];
  for (let i = 0; i < k; i++) if (!present[i]) missing.push(i);
  const e = missing.length;
  if (e === 0) return true;
  if (parity.length < e || e > GF_MAX_PARITY) return false;
  // Syndromes: the chosen parity shards minus the contribution of the data that arrived. They
  // are built in the missing shards' own buffers (shard missing[r] holds syndrome r), then mixed.
  for (let r = 0; r < e; r++) {
    const row = parityRows[r]!;
    const syn = shards[missing[r]!]!;
    syn.set(parity[r]!.subarray(0, len));
    for (let i = 0; i < k; i++) if (present[i]) mulAddInto(syn, 0, shards[i]!, 0, len, coefficient(row, i));
  }
  for (let r = 0; r < e; r++) {
    for (let c = 0; c < e; c++) scratchA[r * e + c] = coefficient(parityRows[r]!, missing[c]!);
  }
  if (!invertMatrix(scratchA, scratchInv, e)) return false;
  if (e === 1) {
    // The syndrome times the inverse coefficient, in place.
    const c = scratchInv[0]!;
    const s = shards[missing[0]!]!;
    if (c !== 1) for (let t = 0; t < len; t++) s[t] = MUL[(c << 8) | s[t]!]!;
    return true;
  }
  // d_missing[c] = sum_r inv[c][r] * syndrome[r]: needs the syndromes intact while writing, so copy them.
  const syndromes = missing.map((i) => shards[i]!.slice(0, len));
  for (let c = 0; c < e; c++) {
    const out = shards[missing[c]!]!;
    out.fill(0, 0, len);
    for (let r = 0; r < e; r++) mulAddInto(out, 0, syndromes[r]!, 0, len, scratchInv[c * e + r]!);
  }
  return true;
}
