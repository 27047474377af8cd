/**
 * Tests for keys.ts: RFC 5869 HKDF vectors, the RFC 8446 §7.1 HkdfLabel encoding
 * checked against RFC 9001 Appendix A and an independent encoder, and known
 * answers for the fastnet schedule generated once with independent
 * implementations (Python hmac/hashlib and `openssl kdf HKDF mode:EXPAND_ONLY`,
 * which agreed byte for byte).
 */

import { describe, expect, test } from "bun:test";
import { hkdfSync } from "node:crypto";
import fc from "fast-check";
import {
  EXPORTER_LABEL,
  EXPORTER_LENGTH,
  deriveDirectionSecrets,
  deriveToken,
  hkdf,
  hkdfExpand,
  hkdfExpandLabel,
  hkdfExtract,
  hkdfLabelInfo,
  nextSecret,
  packetKey,
} from "./keys.ts";

const hex = (s: string) => new Uint8Array(Buffer.from(s, "hex"));
const toHex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const EMPTY = new Uint8Array(0);

/** HkdfLabel written independently of keys.ts, straight from RFC 8446 §7.1. */
function referenceInfo(prefix: string, label: string, context: Uint8Array, length: number): Uint8Array {
  const fullLabel = Buffer.from(prefix + label, "utf8");
  const len = Buffer.alloc(2);
  len.writeUInt16BE(length);
  return new Uint8Array(Buffer.concat([len, Buffer.from([fullLabel.length]), fullLabel, Buffer.from([context.length]), context]));
}

describe("HKDF (RFC 5869)", () => {
  const tc1 = {
    ikm: "0b".repeat(22),
    salt: "000102030405060708090a0b0c",
    info: "f0f1f2f3f4f5f6f7f8f9",
    prk: "077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5",
    okm: "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865",
  };

  test("test case 1: Extract gives the PRK, Expand the OKM, hkdf() both", () => {
    const prk = hkdfExtract(hex(tc1.salt), hex(tc1.ikm));
    expect(toHex(prk)).toBe(tc1.prk);
    expect(toHex(hkdfExpand(prk, hex(tc1.info), 42))).toBe(tc1.okm);
    expect(toHex(hkdf(hex(tc1.ikm), hex(tc1.salt), hex(tc1.info), 42))).toBe(tc1.okm);
  });

  test("test case 3: an empty salt means 32 zero bytes", () => {
    const prk = hkdfExtract(EMPTY, hex("0b".repeat(22)));
    expect(toHex(prk)).toBe("19ef24a32c717b167f33a91d6f648bdf96596776afdb6377ac434c1c293ccb04");
  });

  test("node:crypto hkdfSync works in Bun (RFC 5869 test case 1)", () => {
    expect(Buffer.from(hkdfSync("sha256", hex(tc1.ikm), hex(tc1.salt), hex(tc1.info), 42)).toString("hex")).toBe(tc1.okm);
  });

  test("hkdf() equals node:crypto hkdfSync on random inputs, across block boundaries (property)", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 80 }),
        fc.uint8Array({ maxLength: 80 }),
        fc.uint8Array({ maxLength: 80 }),
        fc.integer({ min: 1, max: 255 * 32 }),
        (ikm, salt, info, len) => {
          expect(toHex(hkdf(ikm, salt, info, len))).toBe(Buffer.from(hkdfSync("sha256", ikm, salt, info, len)).toString("hex"));
        },
      ),
      { numRuns: 100 },
    );
  });

  test.each([
    ["length 0", 32, 0],
    ["length 8161 (> 255 * 32)", 32, 8161],
    ["length 1.5", 32, 1.5],
    ["PRK of 31 bytes", 31, 32],
  ])("hkdfExpand with %s throws FASTNET_INVALID_ARGUMENT", (_n, prkLen, len) => {
    expect(() => hkdfExpand(new Uint8Array(prkLen), EMPTY, len)).toThrow(expect.objectContaining({ code: "FASTNET_INVALID_ARGUMENT" }));
  });
});

describe("HKDF-Expand-Label (RFC 8446 §7.1)", () => {
  test.each([
    ["client in", 32, "00200f746c73313320636c69656e7420696e00"],
    ["server in", 32, "00200f746c7331332073657276657220696e00"],
    ["quic key", 16, "00100e746c7331332071756963206b657900"],
    ["quic iv", 12, "000c0d746c733133207175696320697600"],
  ])("with the tls13 prefix, %s encodes as RFC 9001 Appendix A.1 prints it", (label, len, expected) => {
    expect(toHex(hkdfLabelInfo(label, EMPTY, len, "tls13 "))).toBe(expected);
  });

  test.each([
    ["quic key", 32, "c6d98ff3441c3fe1b2182094f69caa2ed4b716b65488960a7a984979fb23e1c8"],
    ["quic iv", 12, "e0459b3474bdd0e44a41c144"],
    ["quic hp", 32, "25a282b9e82f06f21f488917a4fc8f1b73573685608597d0efcb076b0ab7a7a4"],
    ["quic ku", 32, "1223504755036d556342ee9361d253421a826c9ecdf3c7148684b36b714881f9"],
  ])("with the tls13 prefix, %s reproduces RFC 9001 Appendix A.5 (ChaCha20-Poly1305 short header)", (label, len, expected) => {
    const secret = hex("9ac312a7f877468ebe69422748ad00a15443f18203a07d6060f688f30f21632b");
    expect(toHex(hkdfExpand(secret, hkdfLabelInfo(label, EMPTY, len, "tls13 "), len))).toBe(expected);
  });

  test("the fastnet encoding matches an independent encoder, and hkdfExpandLabel expands exactly that (property)", () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 60 }),
        fc.uint8Array({ maxLength: 255 }),
        fc.integer({ min: 1, max: 600 }),
        fc.uint8Array({ minLength: 32, maxLength: 64 }),
        (label, context, len, secret) => {
          const info = referenceInfo("fastnet ", label, context, len);
          expect(toHex(hkdfLabelInfo(label, context, len))).toBe(toHex(info));
          expect(toHex(hkdfExpandLabel(secret, label, context, len))).toBe(toHex(hkdfExpand(secret, info, len)));
        },
      ),
      { numRuns: 100 },
    );
  });

  test("a known answer with a context (Python hmac and openssl kdf agree)", () => {
    expect(toHex(hkdfExpandLabel(hex([...Array(64).keys()].map((i) => i.toString(16).padStart(2, "0")).join("")), "test", hex("010203"), 40))).toBe(
      "41e1dbd74535b84f7c64b45d996a0e60424cedf608e02111345daea573f6596a8f26052ebe06d7fd",
    );
  });

  test("the label may be 247 bytes (255 with the prefix), not 248", () => {
    expect(hkdfExpandLabel(new Uint8Array(32), "x".repeat(247), EMPTY, 16).length).toBe(16);
    expect(() => hkdfExpandLabel(new Uint8Array(32), "x".repeat(248), EMPTY, 16)).toThrow(expect.objectContaining({ code: "FASTNET_INVALID_ARGUMENT" }));
  });

  test.each([
    ["an empty label", "", EMPTY, 16],
    ["a 256-byte context", "a", new Uint8Array(256), 16],
    ["length 0", "a", EMPTY, 0],
    ["length 70000", "a", EMPTY, 70_000],
  ])("%s throws FASTNET_INVALID_ARGUMENT", (_n, label, context, len) => {
    expect(() => hkdfExpandLabel(new Uint8Array(32), label, context, len)).toThrow(expect.objectContaining({ code: "FASTNET_INVALID_ARGUMENT" }));
  });
});

describe("fastnet key schedule", () => {
  const exporter = hex([...Array(64).keys()].map((i) => i.toString(16).padStart(2, "0")).join(""));

  test("the exporter constants", () => {
    expect(EXPORTER_LABEL).toBe("EXPORTER-fastnet-v1");
    expect(EXPORTER_LENGTH).toBe(64);
  });

  test("known answers for direction secrets, packet keys, key updates and tokens", () => {
    const { clientToServer: c2s, serverToClient: s2c } = deriveDirectionSecrets(exporter);
    expect(toHex(c2s)).toBe("27d364818cad601afe53a889430da2c5fb53c8c54290fc92aeb30339ddcc430a");
    expect(toHex(s2c)).toBe("a66ca0b05311c91a104f0872f52d1194ee8ff0b5d60264cd564df3594f289c4a");
    expect(toHex(packetKey(c2s))).toBe("4d7077f68afa08d30e81e16c62668ad944bb3e997a044e715e3b9333ded4ed9a");
    expect(toHex(packetKey(s2c))).toBe("b72ef1c96d16d62451623f0ef9da77a42968de97cec183624032c9f864042945");
    const ku1 = nextSecret(c2s);
    expect(toHex(ku1)).toBe("eb554a4378643f56dc4820ce474317408af673342852ace1e90b2113ee61a2a6");
    expect(toHex(nextSecret(ku1))).toBe("ce9a6b120c72ee36e9c263778c3dfd9c4c1c350d7b7a1f6eb3d06cfc99f69449");
    expect(toHex(packetKey(ku1))).toBe("4e5ffb302c2c3489884eeec4e22b974ade3bdd373f5fc9ad41148983593d333a");
    expect(toHex(deriveToken(c2s, "bind", 16))).toBe("bf64896ea9df811526f7c01871f81aa9");
    expect(toHex(deriveToken(c2s, "resume", 48))).toBe(
      "e0c5c12f1602b281ac15f5592136fe4c8eaab7e4d2478569ff85b0bf8b2b926570f5f573e6780d718d49d09aabd625c6",
    );
  });

  test("directions differ, and so do their packet keys, for random exporters (property)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 64, maxLength: 64 }), (exp) => {
        const { clientToServer, serverToClient } = deriveDirectionSecrets(exp);
        expect(clientToServer.length).toBe(32);
        expect(serverToClient.length).toBe(32);
        expect(toHex(clientToServer)).not.toBe(toHex(serverToClient));
        expect(toHex(packetKey(clientToServer))).not.toBe(toHex(packetKey(serverToClient)));
        expect(toHex(packetKey(clientToServer))).not.toBe(toHex(clientToServer));
      }),
      { numRuns: 50 },
    );
  });

  test("the nextSecret chain is deterministic and 200 generations (secrets and keys) are all distinct", () => {
    const walk = () => {
      const out: string[] = [];
      let s = deriveDirectionSecrets(exporter).clientToServer;
      for (let i = 0; i < 200; i++) {
        out.push(toHex(s), toHex(packetKey(s)));
        s = nextSecret(s);
      }
      return out;
    };
    const a = walk();
    expect(walk()).toEqual(a);
    expect(new Set(a).size).toBe(400);
  });

  test("deriveToken is separated from the schedule's own labels and by label and length", () => {
    const { clientToServer: s } = deriveDirectionSecrets(exporter);
    expect(toHex(deriveToken(s, "key", 32))).not.toBe(toHex(packetKey(s)));
    expect(toHex(deriveToken(s, "ku", 32))).not.toBe(toHex(nextSecret(s)));
    expect(toHex(deriveToken(s, "a", 32))).not.toBe(toHex(deriveToken(s, "b", 32)));
    // The output length is part of HkdfLabel, so a shorter token is not a prefix of a longer one.
    expect(toHex(deriveToken(s, "a", 32)).slice(0, 32)).not.toBe(toHex(deriveToken(s, "a", 16)));
  });

  test.each([
    ["deriveDirectionSecrets with a 16-byte exporter", () => deriveDirectionSecrets(new Uint8Array(16))],
    ["packetKey with a 31-byte secret", () => packetKey(new Uint8Array(31))],
    ["nextSecret with a 33-byte secret", () => nextSecret(new Uint8Array(33))],
    ["nextSecret with a string", () => nextSecret("secret" as unknown as Uint8Array)],
    ["deriveToken with an empty label", () => deriveToken(new Uint8Array(32), "", 16)],
    ["deriveToken with length 0", () => deriveToken(new Uint8Array(32), "bind", 0)],
  ])("%s throws FASTNET_INVALID_ARGUMENT", (_n, fn) => {
    expect(fn).toThrow(expect.objectContaining({ code: "FASTNET_INVALID_ARGUMENT" }));
  });
});
