/**
 * ChaCha20-Poly1305 IETF (RFC 8439 §2.8) from a system libsodium through
 * bun:ffi: pointers and lengths instead of N-API typed-array arguments, so the
 * datagram path needs no views at all. Used only where a shared libsodium is
 * installed (Debian/Ubuntu `libsodium23`, Homebrew `libsodium`) and passes the
 * same known-answer self-test as the addon; otherwise aead.ts falls back to
 * sodium-native. Every pointer handed to C is checked against the array's
 * bounds first: a bad range is -1 (open) or a caller-bug error (seal), never
 * an out-of-bounds access.
 */
import { createRequire } from "node:module";
import { type Aead, TAG_SIZE, nobleAead, sodiumAead, checkKeyNonce, checkKeyNonceAd, checkSealRange, openRangeOk, packetRangeOk, sodiumSelfTest } from "./aead.ts";

type Ptr = import("bun:ffi").Pointer;
type Ffi = typeof import("bun:ffi");

interface SodiumSymbols {
  encrypt(c: Ptr, clen: null, m: Ptr, mlen: number, ad: Ptr | null, adlen: number, nsec: null, npub: Ptr, k: Ptr): number;
  decrypt(m: Ptr, mlen: null, nsec: null, c: Ptr, clen: number, ad: Ptr | null, adlen: number, npub: Ptr, k: Ptr): number;
}

/** Shared libraries tried in order; the first that loads and initialises wins. */
const CANDIDATES = ["libsodium.so.23", "libsodium.so.26", "libsodium.so", "libsodium.dylib", "libsodium.23.dylib"];

function load(ffi: Ffi): SodiumSymbols | undefined {
  const { dlopen, FFIType } = ffi;
  const p = FFIType.ptr;
  const u64 = FFIType.u64_fast;
  for (const name of CANDIDATES) {
    try {
      const lib = dlopen(name, {
        sodium_init: { args: [], returns: FFIType.i32 },
        crypto_aead_chacha20poly1305_ietf_encrypt: { args: [p, p, p, u64, p, u64, p, p, p], returns: FFIType.i32 },
        crypto_aead_chacha20poly1305_ietf_decrypt: { args: [p, p, p, p, u64, p, u64, p, p], returns: FFIType.i32 },
      });
      // 0 = initialised now, 1 = already; -1 = failure.
      if (lib.symbols.sodium_init() < 0) {
        lib.close();
        continue;
      }
      return {
        encrypt: lib.symbols.crypto_aead_chacha20poly1305_ietf_encrypt as unknown as SodiumSymbols["encrypt"],
        decrypt: lib.symbols.crypto_aead_chacha20poly1305_ietf_decrypt as unknown as SodiumSymbols["decrypt"],
      };
    } catch {
      // Not installed under this name: try the next.
    }
  }
  return undefined;
}

function makeFfiAead(ffi: Ffi, s: SodiumSymbols): Aead {
  const { ptr } = ffi;
  const enc = s.encrypt;
  const dec = s.decrypt;
  /** Decrypt target of openInPlace (libsodium zeroes m on a bad tag; see aead.ts). */
  let scratch = new Uint8Array(2048);
  // ptr() of an empty array throws; an empty AD is passed as NULL with length 0, which libsodium accepts.
  const adPtr = (ad: Uint8Array): Ptr | null => (ad.length === 0 ? null : ptr(ad));
  return {
    name: "sodium-ffi",
    sealInPlace(key, nonce, ad, buf, off, len) {
      checkKeyNonceAd(key, nonce, ad);
      checkSealRange(buf, off, len);
      const at = ptr(buf, off);
      const r = enc(at, null, at, len, adPtr(ad), ad.length, null, ptr(nonce), ptr(key));
      if (r !== 0) throw new Error(`libsodium encrypt failed (${r})`);
      return len + TAG_SIZE;
    },
    openInPlace(key, nonce, ad, buf, off, len) {
      checkKeyNonceAd(key, nonce, ad);
      if (!openRangeOk(buf, off, len)) return -1;
      const mlen = len - TAG_SIZE;
      if (scratch.length < mlen + 1) scratch = new Uint8Array(Math.max(mlen + 1, scratch.length * 2));
      if (dec(ptr(scratch), null, null, ptr(buf, off), len, adPtr(ad), ad.length, ptr(nonce), ptr(key)) !== 0) return -1;
      buf.set(scratch.subarray(0, mlen), off);
      return mlen;
    },
    sealPacket(key, nonce, buf, adLen, len) {
      checkKeyNonce(key, nonce);
      checkSealRange(buf, adLen, len);
      const base = ptr(buf);
      const at = (base + adLen) as Ptr;
      const r = enc(at, null, at, len, adLen === 0 ? null : base, adLen, null, ptr(nonce), ptr(key));
      if (r !== 0) throw new Error(`libsodium encrypt failed (${r})`);
      return len + TAG_SIZE;
    },
    openPacket(key, nonce, src, adLen, end, dst, dstOff) {
      checkKeyNonce(key, nonce);
      if (!packetRangeOk(src, adLen, end, dst, dstOff)) return -1;
      // ptr() needs an in-bounds offset and dst may be empty or full for an empty plaintext: libsodium
      // writes nothing then, so any valid pointer will do.
      const mlen = end - adLen - TAG_SIZE;
      const m = mlen === 0 ? ptr(scratch) : ptr(dst, dstOff);
      const base = ptr(src);
      const r = dec(m, null, null, (base + adLen) as Ptr, end - adLen, adLen === 0 ? null : base, adLen, ptr(nonce), ptr(key));
      return r === 0 ? mlen : -1;
    },
  };
}

let cache: Aead | null | undefined;

/**
 * libsodium through bun:ffi, or undefined when no system libsodium loads here, bun:ffi is missing (not Bun),
 * or the library fails the known-answer self-test. Loaded once.
 */
export function sodiumFfiAead(): Aead | undefined {
  if (cache === undefined) {
    cache = null;
    try {
      // bun:ffi is only there under Bun; required lazily so the package still loads elsewhere.
      const ffi = createRequire(import.meta.url)("bun:ffi") as Ffi;
      const symbols = load(ffi);
      if (symbols !== undefined) {
        const aead = makeFfiAead(ffi, symbols);
        if (sodiumSelfTest(aead)) cache = aead;
      }
    } catch {
      cache = null;
    }
  }
  return cache ?? undefined;
}

/**
 * The fastest implementation that loads here: system libsodium via bun:ffi, else libsodium via the
 * sodium-native addon, else pure-JS noble (measured in the package README). FASTNET_AEAD=sodium-ffi|sodium|noble
 * forces one (benchmarks compare them side by side); an unavailable choice falls through to the next.
 */
export function defaultAead(): Aead {
  const forced = typeof process !== "undefined" ? process.env.FASTNET_AEAD : undefined;
  if (forced === "noble") return nobleAead();
  if (forced === "sodium") return sodiumAead() ?? nobleAead();
  return sodiumFfiAead() ?? sodiumAead() ?? nobleAead();
}
