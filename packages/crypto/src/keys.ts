/**
 * fastnet key schedule: HKDF-SHA256 (RFC 5869) with TLS 1.3's
 * HKDF-Expand-Label encoding (RFC 8446 §7.1) under the label prefix "fastnet ".
 *
 *   exporter = TLS-Exporter(EXPORTER_LABEL, "", 64)         (RFC 8446 §7.5, both ends)
 *   c2s / s2c secret = HKDF-Expand-Label(exporter, "c2s" / "s2c", "", 32)
 *   packet key       = HKDF-Expand-Label(secret, "key", "", 32)
 *   next secret      = HKDF-Expand-Label(secret, "ku", "", 32)   (key update, as RFC 9001 §6 "quic ku")
 *   token            = HKDF-Expand-Label(secret, "token " + label, "", n)
 *
 * The exporter output is already uniformly random (TLS derives it with
 * HKDF-Expand), so it is used directly as the HKDF-Expand PRK, like TLS 1.3
 * uses its traffic secrets. HKDF-Expand is one-way: a leaked secret reveals
 * the secrets after it in the key-update chain, never the ones before.
 *
 * HMAC comes from node:crypto. node:crypto's hkdfSync (also correct in Bun;
 * the tests cross-check it) always runs Extract first and has no Expand-only
 * form, which HKDF-Expand-Label needs.
 */

import { createHmac } from "node:crypto";
import { argError } from "@fastnet/core/protocol";

export const EXPORTER_LABEL = "EXPORTER-fastnet-v1";
export const EXPORTER_LENGTH = 64;
/** SHA-256 output size; also the size of every secret and key in the schedule. */
export const HASH_LENGTH = 32;
export const LABEL_PREFIX = "fastnet ";

const MAX_EXPAND_LENGTH = 255 * HASH_LENGTH;
const encoder = new TextEncoder();

function bytes(name: string, v: unknown, minLength = 0): asserts v is Uint8Array {
  if (!(v instanceof Uint8Array) || v.length < minLength) {
    throw argError(name, minLength > 0 ? `a Uint8Array of at least ${minLength} bytes` : "a Uint8Array", v);
  }
}

function hmac(key: Uint8Array, ...parts: Uint8Array[]): Uint8Array {
  const h = createHmac("sha256", key);
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

/** HKDF-Extract (RFC 5869 §2.2). An empty salt means HashLen zero bytes. */
export function hkdfExtract(salt: Uint8Array, ikm: Uint8Array): Uint8Array {
  bytes("salt", salt);
  bytes("ikm", ikm);
  return hmac(salt.length === 0 ? new Uint8Array(HASH_LENGTH) : salt, ikm);
}

/** HKDF-Expand (RFC 5869 §2.3): T(i) = HMAC(PRK, T(i-1) || info || i), output length <= 255 * 32. */
export function hkdfExpand(prk: Uint8Array, info: Uint8Array, length: number): Uint8Array {
  bytes("prk", prk, HASH_LENGTH);
  bytes("info", info);
  if (!Number.isInteger(length) || length < 1 || length > MAX_EXPAND_LENGTH) {
    throw argError("length", `an integer from 1 to ${MAX_EXPAND_LENGTH}`, length);
  }
  const out = new Uint8Array(length);
  let t: Uint8Array = new Uint8Array(0);
  const counter = new Uint8Array(1);
  for (let i = 1, pos = 0; pos < length; i++) {
    counter[0] = i;
    t = hmac(prk, t, info, counter);
    out.set(t.subarray(0, Math.min(HASH_LENGTH, length - pos)), pos);
    pos += HASH_LENGTH;
  }
  return out;
}

/** Full HKDF (RFC 5869 §2): Expand(Extract(salt, ikm), info, length). */
export function hkdf(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): Uint8Array {
  return hkdfExpand(hkdfExtract(salt, ikm), info, length);
}

/**
 * The HkdfLabel structure of RFC 8446 §7.1, the HKDF-Expand info:
 *   uint16 length; opaque label<7..255> = prefix || label; opaque context<0..255>.
 * prefix defaults to "fastnet " (TLS 1.3 itself uses "tls13 "; the tests check the encoding with it).
 */
export function hkdfLabelInfo(label: string, context: Uint8Array, length: number, prefix: string = LABEL_PREFIX): Uint8Array {
  if (typeof label !== "string" || label.length === 0) throw argError("label", "a non-empty string", label);
  bytes("context", context);
  const full = encoder.encode(prefix + label);
  if (full.length > 255) throw argError("label", `at most ${255 - encoder.encode(prefix).length} bytes`, label);
  if (context.length > 255) throw argError("context", "at most 255 bytes", context);
  if (!Number.isInteger(length) || length < 1 || length > MAX_EXPAND_LENGTH) {
    throw argError("length", `an integer from 1 to ${MAX_EXPAND_LENGTH}`, length);
  }
  const info = new Uint8Array(2 + 1 + full.length + 1 + context.length);
  info[0] = length >>> 8;
  info[1] = length & 0xff;
  info[2] = full.length;
  info.set(full, 3);
  info[3 + full.length] = context.length;
  info.set(context, 4 + full.length);
  return info;
}

/** HKDF-Expand-Label (RFC 8446 §7.1) with the "fastnet " prefix. secret: at least 32 bytes. */
export function hkdfExpandLabel(secret: Uint8Array, label: string, context: Uint8Array, length: number): Uint8Array {
  return hkdfExpand(secret, hkdfLabelInfo(label, context, length), length);
}

const EMPTY = new Uint8Array(0);

/** From the TLS exporter output: one secret per direction (labels "c2s", "s2c"). */
export function deriveDirectionSecrets(exporter: Uint8Array): { clientToServer: Uint8Array; serverToClient: Uint8Array } {
  bytes("exporter", exporter, HASH_LENGTH);
  return {
    clientToServer: hkdfExpandLabel(exporter, "c2s", EMPTY, HASH_LENGTH),
    serverToClient: hkdfExpandLabel(exporter, "s2c", EMPTY, HASH_LENGTH),
  };
}

function secret32(secret: unknown): asserts secret is Uint8Array {
  if (!(secret instanceof Uint8Array) || secret.length !== HASH_LENGTH) throw argError("secret", `a Uint8Array of ${HASH_LENGTH} bytes`, secret);
}

/** The ChaCha20-Poly1305 key for a direction secret: label "key", 32 bytes. */
export function packetKey(secret: Uint8Array): Uint8Array {
  secret32(secret);
  return hkdfExpandLabel(secret, "key", EMPTY, 32);
}

/** The next secret for a key update: label "ku". Forward only: the old secret is not derivable from the new one. */
export function nextSecret(secret: Uint8Array): Uint8Array {
  secret32(secret);
  return hkdfExpandLabel(secret, "ku", EMPTY, HASH_LENGTH);
}

/**
 * Key material for UDP binding tokens, resumption tickets and the like. The label is prefixed with "token " so
 * no caller label can reproduce a packet key or a next secret ("key", "ku") from the same secret.
 */
export function deriveToken(secret: Uint8Array, label: string, length: number): Uint8Array {
  bytes("secret", secret, HASH_LENGTH);
  if (typeof label !== "string" || label.length === 0) throw argError("label", "a non-empty string", label);
  return hkdfExpandLabel(secret, `token ${label}`, EMPTY, length);
}
