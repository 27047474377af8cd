/**
 * Types for the parts of sodium-native 5.1 that @fastnet/crypto uses (the
 * package ships none). sodium-native is optional at run time: aead.ts loads it
 * lazily with a guarded require and falls back to @noble/ciphers.
 */

declare module "sodium-native" {
  /** Writes m.length + ABYTES bytes into c; returns the ciphertext length. Throws on bad sizes. */
  export function crypto_aead_chacha20poly1305_ietf_encrypt(
    c: Uint8Array,
    m: Uint8Array,
    ad: Uint8Array | null,
    nsec: null,
    npub: Uint8Array,
    k: Uint8Array,
  ): number;
  /** Writes c.length - ABYTES bytes into m; returns the plaintext length. Throws if the tag does not verify. */
  export function crypto_aead_chacha20poly1305_ietf_decrypt(
    m: Uint8Array,
    nsec: null,
    c: Uint8Array,
    ad: Uint8Array | null,
    npub: Uint8Array,
    k: Uint8Array,
  ): number;
  export const crypto_aead_chacha20poly1305_ietf_ABYTES: number;
  export const crypto_aead_chacha20poly1305_ietf_KEYBYTES: number;
  export const crypto_aead_chacha20poly1305_ietf_NPUBBYTES: number;
}

/**
 * The native addon behind sodium-native's index.js. Same functions without the
 * JS-side assertions (the caller validates sizes) and without `nsec`; decrypt
 * returns a negative number on authentication failure instead of throwing.
 */
declare module "sodium-native/binding.js" {
  export function crypto_aead_chacha20poly1305_ietf_encrypt(
    c: Uint8Array,
    m: Uint8Array,
    ad: Uint8Array | undefined,
    npub: Uint8Array,
    k: Uint8Array,
  ): number;
  export function crypto_aead_chacha20poly1305_ietf_decrypt(
    m: Uint8Array,
    c: Uint8Array,
    ad: Uint8Array | undefined,
    npub: Uint8Array,
    k: Uint8Array,
  ): number;
}
