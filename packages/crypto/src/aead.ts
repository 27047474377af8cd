/**
 * ChaCha20-Poly1305 AEAD (RFC 8439 §2.8, IETF variant: 256-bit key, 96-bit
 * nonce, 128-bit tag) for sealing fastnet datagrams in place.
 *
 * Two implementations behind one interface:
 * - "sodium": libsodium through sodium-native (N-API, ~10x faster), loaded
 *   lazily so the package still works where the addon cannot load;
 * - "noble": @noble/ciphers, pure JS, the portable fallback and the reference
 *   the native one is cross-checked against in the tests.
 *
 * Nonces come from writeNonce(direction, packet number): unique per key as long
 * as a packet number is never reused in one direction under one key.
 */

import { createRequire } from "node:module";
import { chacha20poly1305 } from "@noble/ciphers/chacha.js";
import { argError } from "@fastnet/core/protocol";

export const KEY_SIZE = 32;
export const NONCE_SIZE = 12;
export const TAG_SIZE = 16;

export interface Aead {
  readonly name: "sodium-ffi" | "sodium" | "noble";
  /** Encrypts buf[off, off+len) in place, writes the 16-byte tag right after; returns len + 16. Caller guarantees room. */
  sealInPlace(key: Uint8Array, nonce: Uint8Array, ad: Uint8Array, buf: Uint8Array, off: number, len: number): number;
  /**
   * Decrypts buf[off, off+len) (ciphertext||tag) in place; returns the plaintext length, or -1 if authentication
   * fails or len < 16. Never throws on the received bytes: any buf/off/len, including out-of-range or non-integer
   * off/len, gives -1. Only a wrong key/nonce/ad type or size (a caller bug) throws FASTNET_INVALID_ARGUMENT.
   * On failure buf is left unchanged, so the caller may retry the same bytes with another key.
   */
  openInPlace(key: Uint8Array, nonce: Uint8Array, ad: Uint8Array, buf: Uint8Array, off: number, len: number): number;
  /**
   * The datagram hot path of sealInPlace: AD = buf[0, adLen), seals buf[adLen, adLen+len) in place, tag after;
   * returns len + 16. No AD view per call: implementations cache what the native call needs.
   */
  sealPacket(key: Uint8Array, nonce: Uint8Array, buf: Uint8Array, adLen: number, len: number): number;
  /**
   * The datagram hot path of open: AD = src[0, adLen), ciphertext||tag = src[adLen, end); the plaintext goes to
   * dst at dstOff. Returns its length, or -1 (as openInPlace: never throws on received bytes). src is never
   * written, so a failed open can be retried with another key; dst is unspecified after a failure.
   */
  openPacket(key: Uint8Array, nonce: Uint8Array, src: Uint8Array, adLen: number, end: number, dst: Uint8Array, dstOff: number): number;
}

/**
 * nonce = 4-byte big-endian direction (0 client->server, 1 server->client) || 8-byte big-endian packet number.
 * pn is a non-negative safe integer (< 2^53), so the top 11 bits of the 64-bit field are always zero.
 * Writes into out (12 bytes) without allocating.
 */
export function writeNonce(out: Uint8Array, direction: number, pn: number): void {
  if (!(out instanceof Uint8Array) || out.length !== NONCE_SIZE) throw argError("out", `a Uint8Array of ${NONCE_SIZE} bytes`, out);
  if (direction !== 0 && direction !== 1) throw argError("direction", "0 (client->server) or 1 (server->client)", direction);
  if (!Number.isSafeInteger(pn) || pn < 0) throw argError("pn", "a non-negative safe integer", pn);
  const hi = Math.floor(pn / 0x1_0000_0000);
  const lo = pn >>> 0;
  out[0] = 0;
  out[1] = 0;
  out[2] = 0;
  out[3] = direction;
  out[4] = hi >>> 24;
  out[5] = (hi >>> 16) & 0xff;
  out[6] = (hi >>> 8) & 0xff;
  out[7] = hi & 0xff;
  out[8] = lo >>> 24;
  out[9] = (lo >>> 16) & 0xff;
  out[10] = (lo >>> 8) & 0xff;
  out[11] = lo & 0xff;
}

/** Caller-bug checks shared by seal and open: these arguments never come off the wire. @internal */
export function checkKeyNonce(key: Uint8Array, nonce: Uint8Array): void {
  if (!(key instanceof Uint8Array) || key.length !== KEY_SIZE) throw argError("key", `a Uint8Array of ${KEY_SIZE} bytes`, key);
  if (!(nonce instanceof Uint8Array) || nonce.length !== NONCE_SIZE) throw argError("nonce", `a Uint8Array of ${NONCE_SIZE} bytes`, nonce);
}

/** @internal */
export function checkKeyNonceAd(key: Uint8Array, nonce: Uint8Array, ad: Uint8Array): void {
  checkKeyNonce(key, nonce);
  if (!(ad instanceof Uint8Array)) throw argError("ad", "a Uint8Array", ad);
}

/** Sealing is driven by our own sender, so a bad range is a caller bug and throws. @internal */
export function checkSealRange(buf: Uint8Array, off: number, len: number): void {
  if (!(buf instanceof Uint8Array)) throw argError("buf", "a Uint8Array", buf);
  if (!Number.isSafeInteger(off) || off < 0) throw argError("off", "a non-negative integer", off);
  if (!Number.isSafeInteger(len) || len < 0) throw argError("len", "a non-negative integer", len);
  if (off + len + TAG_SIZE > buf.length) {
    throw argError("buf", `room for ${len} + ${TAG_SIZE} bytes at offset ${off}`, buf);
  }
}

/** Opening: off/len derive from a received datagram, so a bad range is just a failed open. @internal */
export function openRangeOk(buf: Uint8Array, off: number, len: number): boolean {
  return (
    buf instanceof Uint8Array &&
    Number.isSafeInteger(off) &&
    Number.isSafeInteger(len) &&
    off >= 0 &&
    len >= TAG_SIZE &&
    off + len <= buf.length
  );
}

/** The functions we need from sodium-native, either its raw addon or its public wrappers. */
interface SodiumAeadFns {
  encrypt(c: Uint8Array, m: Uint8Array, ad: Uint8Array, nonce: Uint8Array, key: Uint8Array): number;
  /** Returns the plaintext length, or a negative number if authentication fails. */
  decrypt(m: Uint8Array, c: Uint8Array, ad: Uint8Array, nonce: Uint8Array, key: Uint8Array): number;
}

type SodiumWrapper = typeof import("sodium-native");
type SodiumBinding = typeof import("sodium-native/binding.js");

/**
 * Prefers the raw addon: the public wrappers re-assert sizes we already checked and THROW on a bad tag, which
 * measured ~0.5 µs extra per forged datagram (1.1 µs vs 0.6 µs at 64 B). Falls back to the documented wrappers
 * if a future sodium-native moves its binding.
 */
function sodiumFns(wrapper: SodiumWrapper, binding: SodiumBinding | undefined): SodiumAeadFns {
  if (
    binding !== undefined &&
    typeof binding.crypto_aead_chacha20poly1305_ietf_encrypt === "function" &&
    typeof binding.crypto_aead_chacha20poly1305_ietf_decrypt === "function"
  ) {
    const enc = binding.crypto_aead_chacha20poly1305_ietf_encrypt;
    const dec = binding.crypto_aead_chacha20poly1305_ietf_decrypt;
    return { encrypt: (c, m, ad, n, k) => enc(c, m, ad, n, k), decrypt: (m, c, ad, n, k) => dec(m, c, ad, n, k) };
  }
  const enc = wrapper.crypto_aead_chacha20poly1305_ietf_encrypt;
  const dec = wrapper.crypto_aead_chacha20poly1305_ietf_decrypt;
  return {
    encrypt: (c, m, ad, n, k) => enc(c, m, ad, null, n, k),
    decrypt: (m, c, ad, n, k) => {
      try {
        return dec(m, null, c, ad, n, k);
      } catch {
        return -1;
      }
    },
  };
}

/** Shared decrypt target for sodium opens; calls are synchronous, so one buffer per process is enough. */
let scratch = new Uint8Array(2048);

/** openPacket's range check: src holds adLen + at least a tag, dst has room for the plaintext. @internal */
export function packetRangeOk(src: Uint8Array, adLen: number, end: number, dst: Uint8Array, dstOff: number): boolean {
  return (
    src instanceof Uint8Array &&
    dst instanceof Uint8Array &&
    Number.isSafeInteger(adLen) &&
    Number.isSafeInteger(end) &&
    Number.isSafeInteger(dstOff) &&
    adLen >= 0 &&
    dstOff >= 0 &&
    end - adLen >= TAG_SIZE &&
    end <= src.length &&
    dstOff + (end - adLen - TAG_SIZE) <= dst.length
  );
}

/**
 * Views over a few (buffer, offset) pairs, by length. N-API takes whole typed arrays, so every native call
 * needs views of exactly the right length; a datagram sender writes into the same buffer at the same offset
 * again and again, and a fresh subarray costs ~35 ns plus garbage (3 per seal measured 6% of a ping-pong
 * profile). The AEAD object is shared by every session of the process, so several buffers (a client's and a
 * server's scratch, a few pool buffers) alternate: ENTRIES of them are kept, replaced round robin. A batch
 * cycling through more buffers than that costs what plain subarrays cost.
 */
const ENTRIES = 4;
/** Longest view cached; longer (rare, fragment-sized) datagrams get a fresh view. */
const CACHED_LEN_MAX = 2048;

class ViewCache {
  private readonly bufs: (Uint8Array | undefined)[] = new Array<Uint8Array | undefined>(ENTRIES).fill(undefined);
  private readonly offs: number[] = new Array<number>(ENTRIES).fill(-1);
  private readonly views: Uint8Array[][] = [];
  private victim = 0;

  constructor() {
    for (let i = 0; i < ENTRIES; i++) this.views.push([]);
  }

  get(buf: Uint8Array, off: number, len: number): Uint8Array {
    if (len > CACHED_LEN_MAX) return buf.subarray(off, off + len);
    let e = 0;
    while (e < ENTRIES && (this.bufs[e] !== buf || this.offs[e] !== off)) e++;
    if (e === ENTRIES) {
      e = this.victim;
      this.victim = (e + 1) % ENTRIES;
      this.bufs[e] = buf;
      this.offs[e] = off;
      this.views[e] = [];
    }
    const views = this.views[e]!;
    let v = views[len];
    // A view of a buffer that was since transferred would have length 0: rebuild.
    if (v === undefined || v.length !== len) {
      v = buf.subarray(off, off + len);
      views[len] = v;
    }
    return v;
  }
}

function makeSodiumAead(fns: SodiumAeadFns): Aead {
  const adViews = new ViewCache();
  const ptViews = new ViewCache();
  const ctViews = new ViewCache();
  const dstViews = new ViewCache();
  return {
    name: "sodium",
    sealInPlace(key, nonce, ad, buf, off, len) {
      checkKeyNonceAd(key, nonce, ad);
      checkSealRange(buf, off, len);
      // Views, not copies: libsodium encrypts in place (c == m) and writes the tag after the ciphertext.
      // Plain subarrays measured slightly faster than Buffer.from(buf.buffer, ...) views; caching views only
      // helps when buf/off/len repeat exactly, which a sender with varying lengths rarely does.
      const n = fns.encrypt(buf.subarray(off, off + len + TAG_SIZE), buf.subarray(off, off + len), ad, nonce, key);
      if (n !== len + TAG_SIZE) throw new Error(`libsodium encrypt failed (${n})`);
      return n;
    },
    openInPlace(key, nonce, ad, buf, off, len) {
      checkKeyNonceAd(key, nonce, ad);
      if (!openRangeOk(buf, off, len)) return -1;
      // libsodium ZEROES the plaintext buffer when the tag does not verify. Decrypting in place would destroy
      // the ciphertext, and a receiver that retries with the previous or next key (key update) could never
      // succeed. So decrypt into a scratch buffer and copy back only on success (measured cost: one memcpy).
      const mlen = len - TAG_SIZE;
      if (scratch.length < mlen) scratch = new Uint8Array(Math.max(mlen, scratch.length * 2));
      const n = fns.decrypt(scratch.subarray(0, mlen), buf.subarray(off, off + len), ad, nonce, key);
      if (n !== mlen) return -1;
      buf.set(scratch.subarray(0, mlen), off);
      return mlen;
    },
    sealPacket(key, nonce, buf, adLen, len) {
      checkKeyNonce(key, nonce);
      checkSealRange(buf, adLen, len);
      const n = fns.encrypt(ctViews.get(buf, adLen, len + TAG_SIZE), ptViews.get(buf, adLen, len), adViews.get(buf, 0, adLen), nonce, key);
      if (n !== len + TAG_SIZE) throw new Error(`libsodium encrypt failed (${n})`);
      return n;
    },
    openPacket(key, nonce, src, adLen, end, dst, dstOff) {
      checkKeyNonce(key, nonce);
      if (!packetRangeOk(src, adLen, end, dst, dstOff)) return -1;
      const mlen = end - adLen - TAG_SIZE;
      // src is a fresh receive buffer per datagram: its two views cannot be cached. libsodium zeroes m on a
      // bad tag, which only touches dst.
      const n = fns.decrypt(dstViews.get(dst, dstOff, mlen), src.subarray(adLen, end), src.subarray(0, adLen), nonce, key);
      return n === mlen ? mlen : -1;
    },
  };
}

/** Wycheproof chacha20_poly1305 tcId 2 (empty message and ad): a load-time check that the addon computes ChaCha20-Poly1305. */
const SELF_TEST = {
  key: "80ba3192c803ce965ea371d5ff073cf0f43b6a2ab576b208426e11409c09b9b0",
  nonce: "4da5bf8dfd5852c1ea12379d",
  tag: "76acb342cf3166a5b63c0c0ea1383c8d",
};

/**
 * Known-answer check that a loaded native library computes ChaCha20-Poly1305: seals the vector, opens it
 * back, and refuses it with one tag bit flipped. @internal
 */
export function sodiumSelfTest(aead: Aead): boolean {
  const key = Buffer.from(SELF_TEST.key, "hex");
  const nonce = Buffer.from(SELF_TEST.nonce, "hex");
  const buf = new Uint8Array(TAG_SIZE);
  aead.sealInPlace(key, nonce, new Uint8Array(0), buf, 0, 0);
  if (Buffer.from(buf).toString("hex") !== SELF_TEST.tag) return false;
  if (aead.openInPlace(key, nonce, new Uint8Array(0), buf.slice(), 0, TAG_SIZE) !== 0) return false;
  buf[0]! ^= 1;
  return aead.openInPlace(key, nonce, new Uint8Array(0), buf, 0, TAG_SIZE) === -1;
}

/**
 * Builds the sodium AEAD from a module loader; undefined if loading fails or the loaded module does not pass
 * the self-test. Exposed for tests (a loader that throws stands for a platform without the prebuilt addon).
 * @internal
 */
export function sodiumAeadFrom(load: () => { wrapper: unknown; binding?: unknown }): Aead | undefined {
  try {
    const { wrapper, binding } = load();
    const w = wrapper as SodiumWrapper | undefined;
    if (typeof w?.crypto_aead_chacha20poly1305_ietf_encrypt !== "function" || typeof w.crypto_aead_chacha20poly1305_ietf_decrypt !== "function") {
      return undefined;
    }
    const aead = makeSodiumAead(sodiumFns(w, binding as SodiumBinding | undefined));
    return sodiumSelfTest(aead) ? aead : undefined;
  } catch {
    return undefined;
  }
}

let sodiumCache: Aead | null | undefined;

/** libsodium via sodium-native, or undefined if the addon cannot load here. Loaded once, on first call. */
export function sodiumAead(): Aead | undefined {
  if (sodiumCache === undefined) {
    sodiumCache =
      sodiumAeadFrom(() => {
        const require = createRequire(import.meta.url);
        const wrapper: unknown = require("sodium-native");
        let binding: unknown;
        try {
          binding = require("sodium-native/binding.js");
        } catch {
          binding = undefined;
        }
        return { wrapper, binding };
      }) ?? null;
  }
  return sodiumCache ?? undefined;
}

let nobleCache: Aead | undefined;

/** Pure-JS fallback (@noble/ciphers). Uses its output-buffer variants, so it also works in place without copies. */
export function nobleAead(): Aead {
  nobleCache ??= {
    name: "noble",
    sealInPlace(key, nonce, ad, buf, off, len) {
      checkKeyNonceAd(key, nonce, ad);
      checkSealRange(buf, off, len);
      // noble copies the input into output first (a no-op memmove here) and then XORs output in place.
      chacha20poly1305(key, nonce, ad).encrypt(buf.subarray(off, off + len), buf.subarray(off, off + len + TAG_SIZE));
      return len + TAG_SIZE;
    },
    openInPlace(key, nonce, ad, buf, off, len) {
      checkKeyNonceAd(key, nonce, ad);
      if (!openRangeOk(buf, off, len)) return -1;
      try {
        // noble computes and compares the tag (constant time) before writing to the output.
        chacha20poly1305(key, nonce, ad).decrypt(buf.subarray(off, off + len), buf.subarray(off, off + len - TAG_SIZE));
        return len - TAG_SIZE;
      } catch {
        return -1;
      }
    },
    sealPacket(key, nonce, buf, adLen, len) {
      if (!(buf instanceof Uint8Array)) throw argError("buf", "a Uint8Array", buf);
      return this.sealInPlace(key, nonce, buf.subarray(0, Math.max(0, adLen)), buf, adLen, len);
    },
    openPacket(key, nonce, src, adLen, end, dst, dstOff) {
      checkKeyNonce(key, nonce);
      if (!packetRangeOk(src, adLen, end, dst, dstOff)) return -1;
      try {
        const mlen = end - adLen - TAG_SIZE;
        chacha20poly1305(key, nonce, src.subarray(0, adLen)).decrypt(src.subarray(adLen, end), dst.subarray(dstOff, dstOff + mlen));
        return mlen;
      } catch {
        return -1;
      }
    },
  };
  return nobleCache;
}
