/**
 * Conformance of the sealed-datagram vectors (test/vectors/sealed.json,
 * PROTOCOL.md section 18), checked by an implementation written here from the
 * spec, not from src/: HKDF-Expand-Label with node:crypto HMAC, ChaCha20-Poly1305
 * from @noble/ciphers, nonce and associated data built by hand. Then the real
 * Session opens every vector, and regenerating reproduces the file.
 */
import { describe, expect, test } from "bun:test";
import { createHmac } from "node:crypto";
import { chacha20poly1305 } from "@noble/ciphers/chacha.js";
import { sodiumAead, nobleAead } from "../src/aead.ts";
import { sodiumFfiAead } from "../src/sodium-ffi.ts";
import { Session } from "../src/session.ts";
import { generate } from "./vectors/generate.ts";

interface Vector { name: string; direction: number; pn: number; keyPhase: number; plaintext: string; sealed: string }
const file = (await Bun.file(new URL("./vectors/sealed.json", import.meta.url)).json()) as {
  exporter: string; keys: Record<string, string>; handle: number; token: string; vectors: Vector[];
};
const unhex = (h: string): Uint8Array => new Uint8Array(Buffer.from(h, "hex"));
const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

/** RFC 8446 §7.1 HKDF-Expand-Label with the "fastnet " prefix; lengths <= 32 need one HMAC block. */
function expandLabel(secret: Uint8Array, label: string, length: number): Uint8Array {
  const full = new TextEncoder().encode(`fastnet ${label}`);
  const info = new Uint8Array([length >> 8, length & 0xff, full.length, ...full, 0]);
  return new Uint8Array(createHmac("sha256", secret).update(info).update(new Uint8Array([1])).digest()).subarray(0, length);
}

describe("sealed datagram vectors", () => {
  const exporter = unhex(file.exporter);
  const c2s = expandLabel(exporter, "c2s", 32);
  const s2c = expandLabel(exporter, "s2c", 32);

  test("the key schedule matches an independent HKDF-Expand-Label", () => {
    expect(hex(c2s)).toBe(file.keys.clientToServerSecret!);
    expect(hex(s2c)).toBe(file.keys.serverToClientSecret!);
    expect(hex(expandLabel(c2s, "key", 32))).toBe(file.keys.clientToServerKey!);
    expect(hex(expandLabel(s2c, "key", 32))).toBe(file.keys.serverToClientKey!);
    expect(hex(expandLabel(expandLabel(c2s, "ku", 32), "key", 32))).toBe(file.keys.clientToServerKeyPhase1!);
  });

  test.each(file.vectors.map((v) => [v.name, v] as const))("%s decrypts with an independent AEAD to its plaintext", (_n, v) => {
    const sealed = unhex(v.sealed);
    const plain = unhex(v.plaintext);
    const isRequest = (sealed[1]! & 0x0f) === 1;
    const adEnd = isRequest ? 18 : 14;
    // Cleartext: the core header (key phase bit aside), then the handle for requests, then the packet number.
    expect((sealed[1]! & 0x80) >> 7).toBe(v.keyPhase);
    expect(hex(sealed.subarray(0, 6).map((b, i) => (i === 1 ? b & 0x7f : b)))).toBe(hex(plain.subarray(0, 6)));
    if (isRequest) expect(new DataView(sealed.buffer).getUint32(6)).toBe(file.handle);
    const pnOff = adEnd - 8;
    expect(Number(new DataView(sealed.buffer).getBigUint64(pnOff))).toBe(v.pn);
    const nonce = new Uint8Array(12);
    new DataView(nonce.buffer).setUint32(0, v.direction);
    new DataView(nonce.buffer).setBigUint64(4, BigInt(v.pn));
    const secret = v.direction === 0 ? (v.keyPhase === 1 ? expandLabel(c2s, "ku", 32) : c2s) : s2c;
    const key = expandLabel(secret, "key", 32);
    const body = chacha20poly1305(key, nonce, sealed.subarray(0, adEnd)).decrypt(sealed.subarray(adEnd));
    expect(hex(body)).toBe(hex(plain.subarray(6)));
    expect(sealed.length).toBe(plain.length + (isRequest ? 28 : 24));
  });

  test.each(file.vectors.map((v) => [v.name, v] as const))("%s opens with the real Session (both AEAD implementations)", (_n, v) => {
    for (const aead of [nobleAead(), sodiumAead(), sodiumFfiAead()].filter((a) => a !== undefined)) {
      const token = unhex(file.token);
      const receiver = new Session(file.handle, token, v.direction === 1, c2s, s2c, 0, 1e9);
      const sealed = unhex(v.sealed);
      const adEnd = (sealed[1]! & 0x0f) === 1 ? 18 : 14;
      const out = new Uint8Array(sealed.length);
      const n = receiver.open(aead, sealed, adEnd, sealed.length, out, 3, v.keyPhase, v.pn, 0, 1000);
      expect(n).toBe(unhex(v.plaintext).length - 6);
      expect(hex(out.subarray(3, 3 + (n as number)))).toBe(hex(unhex(v.plaintext).subarray(6)));
      expect(hex(sealed)).toBe(v.sealed);
      // A one-bit change anywhere is rejected.
      const bad = sealed.slice();
      bad[bad.length - 1]! ^= 1;
      const again = new Session(file.handle, token, v.direction === 1, c2s, s2c, 0, 1e9);
      expect(again.open(aead, bad, adEnd, bad.length, out, 0, v.keyPhase, v.pn, 0, 1000)).toBe("auth");
    }
  });

  test("regenerating the vectors reproduces the file byte for byte", () => {
    expect(`${JSON.stringify(generate(), null, 2)}\n`).toBe(JSON.stringify(file, null, 2) + "\n");
  });
});
