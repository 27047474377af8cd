/**
 * Micro-benchmark for the datagram crypto hot path: ChaCha20-Poly1305
 * (RFC 8439) seal+open pairs for sodium-native and @noble/ciphers, a forged
 * datagram's failed open, and the RFC 6479 replay window's check+accept.
 *
 * Run: bun packages/crypto/bench/aead.ts   (add --quick for fewer rounds)
 * Reports the median over rounds of ns per operation.
 */

import { type Aead, KEY_SIZE, NONCE_SIZE, TAG_SIZE, nobleAead, sodiumAead, writeNonce } from "../src/aead.ts";
import { ReplayWindow } from "../src/replay.ts";
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

const fmt = (ns: number) => (ns >= 10_000 ? Math.round(ns).toLocaleString("en-US") : ns.toFixed(0)).padStart(10);

const sodium = sodiumAead();
const noble = nobleAead();
console.log(`@fastnet/crypto AEAD bench (Bun ${Bun.version}, median of ${ROUNDS} rounds, ns per op)\n`);
console.log("ChaCha20-Poly1305 seal+open pair, in place");
console.log(`${"size".padStart(7)} ${"sodium".padStart(10)} ${"noble".padStart(10)} ${"noble/sodium".padStart(13)} ${"sodium MB/s".padStart(12)}`);
for (const size of [64, 1200, 65_536]) {
  const s = sodium ? sealOpenPair(sodium, size) : Number.NaN;
  const n = sealOpenPair(noble, size);
  const mbps = ((2 * size) / s) * 1e3;
  console.log(`${String(size).padStart(7)} ${fmt(s)} ${fmt(n)} ${`${(n / s).toFixed(1)}x`.padStart(13)} ${mbps.toFixed(0).padStart(12)}`);
}
if (sodium) {
  console.log(`\nforged datagram (failed open), 1200 B: sodium ${fmt(forgedOpen(sodium, 1200)).trim()} ns, noble ${fmt(forgedOpen(noble, 1200)).trim()} ns`);
}

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
