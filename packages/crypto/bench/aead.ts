/**
 * Micro-benchmark for the datagram crypto hot path: ChaCha20-Poly1305
 * (RFC 8439) seal+open pairs for system libsodium via bun:ffi, sodium-native
 * and @noble/ciphers (general in-place API and the datagram packet path), a forged
 * datagram's failed open, and the RFC 6479 replay window's check+accept.
 *
 * Run: bun packages/crypto/bench/aead.ts   (add --quick for fewer rounds)
 * Reports the median over rounds of ns per operation.
 */

import { type Aead, KEY_SIZE, NONCE_SIZE, TAG_SIZE, nobleAead, sodiumAead, writeNonce } from "../src/aead.ts";
import { ReplayWindow } from "../src/replay.ts";
import { sodiumFfiAead } from "../src/sodium-ffi.ts";
import { medianNsPerOp } from "@fastnet/core/bench";

const quick = process.argv.includes("--quick");
const ROUNDS = quick ? 5 : 15;
const ROUND_MS = quick ? 10 : 40;

/** Median ns per call of fn over ROUNDS rounds, each sized to about ROUND_MS. */
function measure(fn: (i: number) => void): number {
  return medianNsPerOp(fn, { rounds: ROUNDS, roundMs: ROUND_MS });
}

function sealOpenPair(aead: Aead, size: number): number {
  const key = crypto.getRandomValues(new Uint8Array(KEY_SIZE));
  const nonce = new Uint8Array(NONCE_SIZE);
  const ad = crypto.getRandomValues(new Uint8Array(12));
  const buf = new Uint8Array(size + TAG_SIZE + 12);
  crypto.getRandomValues(buf.subarray(12, 12 + Math.min(size, 65_536)));
  return measure((i) => {
    writeNonce(nonce, 0, i);
    const n = aead.sealInPlace(key, nonce, ad, buf, 12, size);
    if (aead.openInPlace(key, nonce, ad, buf, 12, n) !== size) throw new Error("open failed");
  });
}

function forgedOpen(aead: Aead, size: number): number {
  const key = new Uint8Array(KEY_SIZE).fill(1);
  const nonce = new Uint8Array(NONCE_SIZE);
  const buf = new Uint8Array(size + TAG_SIZE);
  aead.sealInPlace(key, nonce, new Uint8Array(0), buf, 0, size);
  buf[0]! ^= 1;
  return measure(() => {
    if (aead.openInPlace(key, nonce, new Uint8Array(0), buf, 0, size + TAG_SIZE) !== -1) throw new Error("forgery accepted");
  });
}

/** The datagram path: AD = 14-byte prefix, sealed in place, opened into a second buffer. */
function packetPair(aead: Aead, size: number): number {
  const key = crypto.getRandomValues(new Uint8Array(KEY_SIZE));
  const nonce = new Uint8Array(NONCE_SIZE);
  const buf = new Uint8Array(size + TAG_SIZE + 14);
  const dst = new Uint8Array(size + 6);
  crypto.getRandomValues(buf.subarray(0, 14 + Math.min(size, 65_536)));
  return measure((i) => {
    writeNonce(nonce, 0, i);
    const n = aead.sealPacket(key, nonce, buf, 14, size);
    if (aead.openPacket(key, nonce, buf, 14, 14 + n, dst, 6) !== size) throw new Error("open failed");
  });
}

const fmt = (ns: number) => (ns >= 10_000 ? Math.round(ns).toLocaleString("en-US") : ns.toFixed(0)).padStart(10);

const ffi = sodiumFfiAead();
const sodium = sodiumAead();
const noble = nobleAead();
const col = (name: string) => name.padStart(10);
console.log(`@fastnet/crypto AEAD bench (Bun ${Bun.version}, median of ${ROUNDS} rounds, ns per op)\n`);
for (const [title, pair] of [["seal+open pair, in place (sealInPlace/openInPlace)", sealOpenPair], ["seal+open pair, datagram path (sealPacket/openPacket)", packetPair]] as const) {
  console.log(`ChaCha20-Poly1305 ${title}`);
  console.log(`${"size".padStart(7)} ${col("ffi")} ${col("sodium")} ${col("noble")} ${"noble/sodium".padStart(13)} ${"sodium/ffi".padStart(11)}`);
  for (const size of [64, 1200, 65_536]) {
    const f = ffi ? pair(ffi, size) : Number.NaN;
    const s = sodium ? pair(sodium, size) : Number.NaN;
    const n = pair(noble, size);
    console.log(`${String(size).padStart(7)} ${fmt(f)} ${fmt(s)} ${fmt(n)} ${`${(n / s).toFixed(1)}x`.padStart(13)} ${`${(s / f).toFixed(2)}x`.padStart(11)}`);
  }
  console.log("");
}
const forged = [ffi, sodium, noble].filter((a) => a !== undefined).map((a) => `${a.name} ${fmt(forgedOpen(a, 1200)).trim()} ns`);
console.log(`forged datagram (failed open), 1200 B: ${forged.join(", ")}`);

console.log("\nReplayWindow(2048) check+accept");
{
  const w = new ReplayWindow();
  console.log(`  in order             ${fmt(measure((i) => void (w.check(i) && w.accept(i))))}`);
}
{
  // Pairs swapped (1,0,3,2,...): every other packet arrives late, inside the window.
  const w = new ReplayWindow();
  console.log(`  reordered by one     ${fmt(measure((i) => void (w.check(i ^ 1) && w.accept(i ^ 1))))}`);
}
{
  // Every packet is replayed once right after: half the calls are rejected duplicates.
  const w = new ReplayWindow();
  console.log(`  each pn twice        ${fmt(measure((i) => void (w.check(i >> 1) && w.accept(i >> 1))))}`);
}
