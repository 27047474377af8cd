/**
 * Tests for aead.ts: RFC 8439 §2.8.2 known answer, sodium and noble agreeing
 * byte for byte, every single-bit tamper rejected, garbage never throwing.
 */

import { describe, expect, test } from "bun:test";
import { createRequire } from "node:module";
import fc from "fast-check";
import { type Aead, KEY_SIZE, NONCE_SIZE, TAG_SIZE, nobleAead, sodiumAead, sodiumAeadFrom, writeNonce } from "./aead.ts";
import { defaultAead, sodiumFfiAead } from "./sodium-ffi.ts";

const hex = (s: string) => new Uint8Array(Buffer.from(s, "hex"));
const toHex = (b: Uint8Array) => Buffer.from(b).toString("hex");

const sodium = sodiumAead();
const ffi = sodiumFfiAead();
const noble = nobleAead();
const natives: Aead[] = [ffi, sodium].filter((a): a is Aead => a !== undefined);
const impls: Aead[] = [...natives, noble];

// RFC 8439 §2.8.2 (same vector as Wycheproof chacha20_poly1305 tcId 1, "RFC 7539").
const RFC = {
  key: "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f",
  nonce: "070000004041424344454647",
  ad: "50515253c0c1c2c3c4c5c6c7",
  plaintext: "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.",
  ciphertext:
    "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc3ff4def08e4b7a9de576d26586cec64b6116",
  tag: "1ae10b594f09e26a7e902ecbd0600691",
};

function sealCopy(a: Aead, key: Uint8Array, nonce: Uint8Array, ad: Uint8Array, msg: Uint8Array, off = 0): Uint8Array {
  const buf = new Uint8Array(off + msg.length + TAG_SIZE);
  buf.set(msg, off);
  expect(a.sealInPlace(key, nonce, ad, buf, off, msg.length)).toBe(msg.length + TAG_SIZE);
  return buf.subarray(off);
}

test("sodium-native loads in this environment (the fast path the runtime notes measured)", () => {
  expect(sodium?.name).toBe("sodium");
  expect(noble.name).toBe("noble");
});

test("system libsodium loads through bun:ffi where it is installed (.ci/run installs libsodium23)", () => {
  expect(ffi?.name).toBe("sodium-ffi");
});

test("defaultAead picks the fastest that loads; FASTNET_AEAD forces one", () => {
  const saved = process.env.FASTNET_AEAD;
  try {
    delete process.env.FASTNET_AEAD;
    expect(defaultAead().name).toBe(ffi ? "sodium-ffi" : "sodium");
    process.env.FASTNET_AEAD = "sodium";
    expect(defaultAead().name).toBe("sodium");
    process.env.FASTNET_AEAD = "noble";
    expect(defaultAead().name).toBe("noble");
  } finally {
    if (saved === undefined) delete process.env.FASTNET_AEAD;
    else process.env.FASTNET_AEAD = saved;
  }
});

describe.each(impls.map((a) => [a.name, a] as const))("%s", (_name, aead) => {
  test("RFC 8439 §2.8.2 test vector: seal", () => {
    const pt = new TextEncoder().encode(RFC.plaintext);
    expect(pt.length).toBe(114);
    const out = sealCopy(aead, hex(RFC.key), hex(RFC.nonce), hex(RFC.ad), pt, 7);
    expect(toHex(out)).toBe(RFC.ciphertext + RFC.tag);
  });

  test("RFC 8439 §2.8.2 test vector: open in place", () => {
    const ct = hex(RFC.ciphertext + RFC.tag);
    const buf = new Uint8Array(ct.length + 10);
    buf.set(ct, 5);
    expect(aead.openInPlace(hex(RFC.key), hex(RFC.nonce), hex(RFC.ad), buf, 5, ct.length)).toBe(114);
    expect(new TextDecoder().decode(buf.subarray(5, 5 + 114))).toBe(RFC.plaintext);
  });

  test("Wycheproof tcId 2: empty message and ad give only the tag", () => {
    const out = sealCopy(aead, hex("80ba3192c803ce965ea371d5ff073cf0f43b6a2ab576b208426e11409c09b9b0"), hex("4da5bf8dfd5852c1ea12379d"), new Uint8Array(0), new Uint8Array(0));
    expect(toHex(out)).toBe("76acb342cf3166a5b63c0c0ea1383c8d");
  });

  test("seal leaves bytes outside [off, off+len+16) untouched", () => {
    const buf = new Uint8Array(100).fill(0xaa);
    aead.sealInPlace(new Uint8Array(KEY_SIZE), new Uint8Array(NONCE_SIZE), new Uint8Array(0), buf, 10, 20);
    expect(buf.subarray(0, 10).every((b) => b === 0xaa)).toBe(true);
    expect(buf.subarray(46).every((b) => b === 0xaa)).toBe(true);
  });

  test("every single-bit flip of ciphertext, tag, ad, nonce and key is rejected; buf stays unchanged", () => {
    const key = crypto.getRandomValues(new Uint8Array(KEY_SIZE));
    const nonce = crypto.getRandomValues(new Uint8Array(NONCE_SIZE));
    const ad = crypto.getRandomValues(new Uint8Array(13));
    const sealed = sealCopy(aead, key, nonce, ad, crypto.getRandomValues(new Uint8Array(64)));
    expect(sealed.length).toBe(80);
    let rejected = 0;
    const tryOpen = (k: Uint8Array, n: Uint8Array, a: Uint8Array, c: Uint8Array) => {
      const before = c.slice();
      const r = aead.openInPlace(k, n, a, c, 0, c.length);
      if (r === -1 && Buffer.compare(before, c) === 0) rejected++;
    };
    const flip = (b: Uint8Array, bit: number) => {
      const c = b.slice();
      c[bit >> 3]! ^= 1 << (bit & 7);
      return c;
    };
    for (let bit = 0; bit < sealed.length * 8; bit++) tryOpen(key, nonce, ad, flip(sealed, bit));
    for (let bit = 0; bit < ad.length * 8; bit++) tryOpen(key, nonce, flip(ad, bit), sealed.slice());
    for (let bit = 0; bit < NONCE_SIZE * 8; bit++) tryOpen(key, flip(nonce, bit), ad, sealed.slice());
    for (let bit = 0; bit < KEY_SIZE * 8; bit++) tryOpen(flip(key, bit), nonce, ad, sealed.slice());
    expect(rejected).toBe((80 + 13 + NONCE_SIZE + KEY_SIZE) * 8);
    // The untampered packet still opens: the rejections above were not a broken open.
    expect(aead.openInPlace(key, nonce, ad, sealed.slice(), 0, 80)).toBe(64);
  });

  test("a failed open leaves the ciphertext intact, so retrying with the right key (key update) succeeds", () => {
    const oldKey = new Uint8Array(KEY_SIZE).fill(1);
    const newKey = new Uint8Array(KEY_SIZE).fill(2);
    const nonce = new Uint8Array(NONCE_SIZE);
    const msg = new TextEncoder().encode("sent just before the key update");
    const buf = sealCopy(aead, oldKey, nonce, new Uint8Array(0), msg);
    expect(aead.openInPlace(newKey, nonce, new Uint8Array(0), buf, 0, buf.length)).toBe(-1);
    expect(aead.openInPlace(oldKey, nonce, new Uint8Array(0), buf, 0, buf.length)).toBe(msg.length);
    expect(new TextDecoder().decode(buf.subarray(0, msg.length))).toBe("sent just before the key update");
  });

  test("open returns -1 for lengths 0..15 (shorter than a tag)", () => {
    const buf = new Uint8Array(64);
    for (let len = 0; len < TAG_SIZE; len++) {
      expect(aead.openInPlace(new Uint8Array(KEY_SIZE), new Uint8Array(NONCE_SIZE), new Uint8Array(0), buf, 3, len)).toBe(-1);
    }
  });

  test.each([
    ["negative len", 0, -1],
    ["NaN len", 0, Number.NaN],
    ["fractional len", 0, 16.5],
    ["Infinity len", 0, Number.POSITIVE_INFINITY],
    ["negative off", -1, 20],
    ["off past the end", 64, 16],
    ["off + len past the end", 50, 20],
    ["string off", "0" as unknown as number, 20],
  ])("open with %s returns -1 without throwing", (_n, off, len) => {
    const buf = new Uint8Array(64);
    expect(aead.openInPlace(new Uint8Array(KEY_SIZE), new Uint8Array(NONCE_SIZE), new Uint8Array(0), buf, off, len)).toBe(-1);
  });

  test("open on a non-Uint8Array buf returns -1 without throwing", () => {
    for (const bad of [null, undefined, "abc", 5, {}, new Uint16Array(40)]) {
      expect(aead.openInPlace(new Uint8Array(KEY_SIZE), new Uint8Array(NONCE_SIZE), new Uint8Array(0), bad as unknown as Uint8Array, 0, 32)).toBe(-1);
    }
  });

  test("open on random garbage never throws and never authenticates (property)", () => {
    const key = new Uint8Array(KEY_SIZE).fill(3);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.integer({ min: -5, max: 305 }), fc.integer({ min: -5, max: 305 }), (bytes, off, len) => {
        expect(aead.openInPlace(key, new Uint8Array(NONCE_SIZE), new Uint8Array(0), bytes, off, len)).toBe(-1);
      }),
      { numRuns: 300 },
    );
  });

  test.each([
    ["key of 31 bytes", new Uint8Array(31), new Uint8Array(12), new Uint8Array(0)],
    ["key not bytes", "k".repeat(32), new Uint8Array(12), new Uint8Array(0)],
    ["nonce of 8 bytes", new Uint8Array(32), new Uint8Array(8), new Uint8Array(0)],
    ["ad not bytes", new Uint8Array(32), new Uint8Array(12), null],
  ])("caller bug (%s) throws FASTNET_INVALID_ARGUMENT from seal and open", (_n, key, nonce, ad) => {
    const buf = new Uint8Array(64);
    const args = [key, nonce, ad, buf, 0, 16] as unknown as Parameters<Aead["sealInPlace"]>;
    expect(() => aead.sealInPlace(...args)).toThrow(expect.objectContaining({ code: "FASTNET_INVALID_ARGUMENT" }));
    expect(() => aead.openInPlace(...args)).toThrow(expect.objectContaining({ code: "FASTNET_INVALID_ARGUMENT" }));
  });

  test("seal without room for the tag throws FASTNET_INVALID_ARGUMENT and writes nothing", () => {
    const buf = new Uint8Array(40);
    expect(() => aead.sealInPlace(new Uint8Array(32), new Uint8Array(12), new Uint8Array(0), buf, 10, 15)).toThrow(
      expect.objectContaining({ code: "FASTNET_INVALID_ARGUMENT" }),
    );
    expect(buf.every((b) => b === 0)).toBe(true);
  });
});

describe.each(natives.map((a) => [a.name, a] as const))("%s vs noble", (_name, s) => {
  const arb = fc.record({
    key: fc.uint8Array({ minLength: KEY_SIZE, maxLength: KEY_SIZE }),
    nonce: fc.uint8Array({ minLength: NONCE_SIZE, maxLength: NONCE_SIZE }),
    ad: fc.uint8Array({ maxLength: 64 }),
    msg: fc.uint8Array({ maxLength: 1500 }),
    off: fc.nat(40),
  });

  test("seal agrees byte for byte and each opens the other's output (property)", () => {
    fc.assert(
      fc.property(arb, ({ key, nonce, ad, msg, off }) => {
        const a = sealCopy(s, key, nonce, ad, msg, off);
        const b = sealCopy(noble, key, nonce, ad, msg, off);
        expect(toHex(a)).toBe(toHex(b));
        expect(s.openInPlace(key, nonce, ad, b, 0, b.length)).toBe(msg.length);
        expect(noble.openInPlace(key, nonce, ad, a, 0, a.length)).toBe(msg.length);
        expect(toHex(a.subarray(0, msg.length))).toBe(toHex(msg));
        expect(toHex(b.subarray(0, msg.length))).toBe(toHex(msg));
      }),
      { numRuns: 200 },
    );
  });

  test.each([0, 1, 63, 64, 65, 1200, 65_536])("seal agrees at %d bytes", (size) => {
    const key = crypto.getRandomValues(new Uint8Array(KEY_SIZE));
    const nonce = crypto.getRandomValues(new Uint8Array(NONCE_SIZE));
    const ad = crypto.getRandomValues(new Uint8Array(21));
    const msg = new Uint8Array(size);
    for (let i = 0; i < size; i += 65_536) crypto.getRandomValues(msg.subarray(i, i + 65_536));
    const a = sealCopy(s, key, nonce, ad, msg, 3);
    const b = sealCopy(noble, key, nonce, ad, msg, 3);
    expect(Buffer.compare(a, b)).toBe(0);
    expect(a.length).toBe(size + TAG_SIZE);
  });
});

describe("sodiumAeadFrom (loading)", () => {
  const require = createRequire(import.meta.url);

  test("a loader that throws (no prebuilt addon) gives undefined, and noble still works", () => {
    expect(
      sodiumAeadFrom(() => {
        throw new Error("Cannot find module 'sodium-native'");
      }),
    ).toBeUndefined();
    expect(sealCopy(noble, new Uint8Array(32), new Uint8Array(12), new Uint8Array(0), new Uint8Array(1)).length).toBe(17);
  });

  test("a module without the AEAD functions gives undefined", () => {
    expect(sodiumAeadFrom(() => ({ wrapper: {} }))).toBeUndefined();
    expect(sodiumAeadFrom(() => ({ wrapper: undefined }))).toBeUndefined();
  });

  test("a module that computes the wrong thing fails the load-time self-test", () => {
    const wrong = {
      crypto_aead_chacha20poly1305_ietf_encrypt: (c: Uint8Array) => {
        c.fill(0);
        return c.length;
      },
      crypto_aead_chacha20poly1305_ietf_decrypt: () => -1,
    };
    expect(sodiumAeadFrom(() => ({ wrapper: wrong }))).toBeUndefined();
  });

  test("the public-wrapper path (no raw binding) agrees with noble, rejects forgeries without throwing", () => {
    const viaWrapper = sodiumAeadFrom(() => ({ wrapper: require("sodium-native") }));
    expect(viaWrapper?.name).toBe("sodium");
    const key = new Uint8Array(32).fill(9);
    const nonce = new Uint8Array(12).fill(4);
    const msg = new TextEncoder().encode("wrapper path");
    const a = sealCopy(viaWrapper!, key, nonce, new Uint8Array(2), msg);
    expect(toHex(a)).toBe(toHex(sealCopy(noble, key, nonce, new Uint8Array(2), msg)));
    const forged = a.slice();
    forged[0]! ^= 1;
    expect(viaWrapper!.openInPlace(key, nonce, new Uint8Array(2), forged, 0, forged.length)).toBe(-1);
    expect(viaWrapper!.openInPlace(key, nonce, new Uint8Array(2), a, 0, a.length)).toBe(msg.length);
  });
});

describe("writeNonce", () => {
  test.each([
    [0, 0, "000000000000000000000000"],
    [1, 0, "000000010000000000000000"],
    [0, 1, "000000000000000000000001"],
    [1, 0x1_0000_0000, "000000010000000100000000"],
    [0, 0x0102_0304_0506, "000000000000010203040506"],
    [1, Number.MAX_SAFE_INTEGER, "00000001001fffffffffffff"],
  ])("direction %d, pn %d → %s", (direction, pn, expected) => {
    const out = new Uint8Array(12).fill(0xee);
    writeNonce(out, direction, pn);
    expect(toHex(out)).toBe(expected);
  });

  test("matches a DataView big-endian encoding for random packet numbers (property)", () => {
    fc.assert(
      fc.property(fc.constantFrom(0, 1), fc.maxSafeNat(), (direction, pn) => {
        const out = new Uint8Array(12);
        writeNonce(out, direction, pn);
        const ref = new Uint8Array(12);
        const dv = new DataView(ref.buffer);
        dv.setUint32(0, direction);
        dv.setBigUint64(4, BigInt(pn));
        expect(toHex(out)).toBe(toHex(ref));
      }),
    );
  });

  test.each([
    ["pn -1", 0, -1],
    ["pn 1.5", 0, 1.5],
    ["pn 2^53", 0, 2 ** 53],
    ["pn NaN", 0, Number.NaN],
    ["direction 2", 2, 0],
    ["direction -1", -1, 0],
  ])("%s throws FASTNET_INVALID_ARGUMENT", (_n, direction, pn) => {
    expect(() => writeNonce(new Uint8Array(12), direction, pn)).toThrow(expect.objectContaining({ code: "FASTNET_INVALID_ARGUMENT" }));
  });

  test("an output that is not 12 bytes throws FASTNET_INVALID_ARGUMENT", () => {
    expect(() => writeNonce(new Uint8Array(8), 0, 0)).toThrow(expect.objectContaining({ code: "FASTNET_INVALID_ARGUMENT" }));
  });
});

describe("packet path (sealPacket / openPacket)", () => {
  const key = hex(RFC.key);
  const nonce = hex(RFC.nonce);

  test.each(impls.map((a) => [a.name, a] as const))("%s: sealPacket equals sealInPlace with AD = buf[0, adLen); openPacket leaves src untouched", (_n, a) => {
    for (const [adLen, len] of [[14, 64], [18, 0], [0, 5], [14, 1200], [14, 64]] as const) {
      const buf = crypto.getRandomValues(new Uint8Array(adLen + len + TAG_SIZE + 7));
      const ref = buf.slice();
      expect(a.sealPacket(key, nonce, buf, adLen, len)).toBe(len + TAG_SIZE);
      expect(noble.sealInPlace(key, nonce, ref.slice(0, adLen), ref, adLen, len)).toBe(len + TAG_SIZE);
      expect(toHex(buf)).toBe(toHex(ref));
      const src = buf.slice(0, adLen + len + TAG_SIZE);
      const before = toHex(src);
      const dst = new Uint8Array(len + 9).fill(0xee);
      expect(a.openPacket(key, nonce, src, adLen, src.length, dst, 9)).toBe(len);
      expect(toHex(src)).toBe(before);
      expect(dst.subarray(0, 9).every((b) => b === 0xee)).toBe(true);
      // Tampered tag: -1, src still as received (a retry under another key sees the same bytes).
      src[src.length - 1]! ^= 1;
      const tampered = toHex(src);
      expect(a.openPacket(key, nonce, src, adLen, src.length, dst, 9)).toBe(-1);
      expect(toHex(src)).toBe(tampered);
    }
  });

  test.each(impls.map((a) => [a.name, a] as const))("%s: cached views stay right when buffer, offset and length change between calls", (_n, a) => {
    // Alternates two buffers and varies lengths: a stale cached view would seal or open the wrong range.
    const bufs = [new Uint8Array(1500), new Uint8Array(1500)];
    const dst = new Uint8Array(1500);
    for (let i = 0; i < 300; i++) {
      const buf = bufs[i % 2]!;
      const adLen = i % 7 === 0 ? 18 : 14;
      const len = (i * 37) % 1200;
      const msg = crypto.getRandomValues(new Uint8Array(len));
      buf.set(msg, adLen);
      const ref = new Uint8Array(adLen + len + TAG_SIZE);
      ref.set(buf.subarray(0, adLen + len));
      a.sealPacket(key, nonce, buf, adLen, len);
      noble.sealInPlace(key, nonce, ref.slice(0, adLen), ref, adLen, len);
      expect(toHex(buf.subarray(0, adLen + len + TAG_SIZE))).toBe(toHex(ref));
      const dstOff = i % 3;
      expect(a.openPacket(key, nonce, ref, adLen, ref.length, dst, dstOff)).toBe(len);
      expect(toHex(dst.subarray(dstOff, dstOff + len))).toBe(toHex(msg));
    }
  });

  test.each(impls.map((a) => [a.name, a] as const))("%s: openPacket gives -1 for every bad range, never throws on received bytes", (_n, a) => {
    const src = new Uint8Array(64);
    const dst = new Uint8Array(64);
    const cases: [unknown, number, number, unknown, number][] = [
      [src, 14, 29, dst, 0], // shorter than AD + tag
      [src, 14, 65, dst, 0], // end past src
      [src, -1, 64, dst, 0],
      [src, 14, 64, dst, 40], // no room in dst
      [src, 14, 64, dst, -1],
      [src, 1.5, 64, dst, 0],
      [null, 14, 64, dst, 0],
      [src, 14, 64, "x", 0],
    ];
    for (const [s, adLen, end, d, off] of cases) {
      expect(a.openPacket(key, nonce, s as Uint8Array, adLen, end, d as Uint8Array, off)).toBe(-1);
    }
    expect(() => a.openPacket(new Uint8Array(3), nonce, src, 14, 64, dst, 0)).toThrow(expect.objectContaining({ code: "FASTNET_INVALID_ARGUMENT" }));
  });
});
