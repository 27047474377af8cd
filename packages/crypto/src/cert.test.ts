/**
 * Tests for cert.ts: the generated certificate parses with node:crypto
 * X509Certificate (and openssl when installed), verifies its own signature,
 * matches its key, and carries a real TLS 1.3 handshake with node:tls whose
 * exporters agree on both ends.
 */

import { afterAll, describe, expect, test } from "bun:test";
import { X509Certificate, createPrivateKey } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import tls from "node:tls";
import fc from "fast-check";
import { fingerprint256, generateSelfSignedCertificate } from "./cert.ts";
import { EXPORTER_LABEL, EXPORTER_LENGTH } from "./keys.ts";

const t0 = performance.now();
const dev = generateSelfSignedCertificate();
const firstMs = performance.now() - t0;

describe("generateSelfSignedCertificate: the certificate itself", () => {
  const x = new X509Certificate(dev.certPem);

  test("is generated in a few milliseconds (median of 20, first call included in the log)", () => {
    const times: number[] = [];
    for (let i = 0; i < 20; i++) {
      const t = performance.now();
      generateSelfSignedCertificate();
      times.push(performance.now() - t);
    }
    times.sort((a, b) => a - b);
    const median = times[10]!;
    console.log(`cert generation: first ${firstMs.toFixed(2)} ms, median ${median.toFixed(2)} ms`);
    expect(median).toBeLessThan(50);
  });

  test("subject and issuer are CN=localhost (self-signed)", () => {
    expect(x.subject).toBe("CN=localhost");
    expect(x.issuer).toBe("CN=localhost");
  });

  test("subjectAltName has the default DNS name and IPv4/IPv6 loopback addresses", () => {
    expect(x.subjectAltName).toBe("DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1");
    expect(x.checkHost("localhost")).toBe("localhost");
    expect(x.checkIP("127.0.0.1")).toBe("127.0.0.1");
    expect(x.checkIP("::1")).toBe("::1");
    expect(x.checkHost("example.com")).toBeUndefined();
    expect(x.checkIP("127.0.0.2")).toBeUndefined();
  });

  test("is valid from about an hour ago for 30 days", () => {
    const from = new Date(x.validFrom).getTime();
    const to = new Date(x.validTo).getTime();
    const now = Date.now();
    expect(now - from).toBeGreaterThan(3_590_000);
    expect(now - from).toBeLessThan(3_610_000);
    expect(to - now).toBeGreaterThan(30 * 86_400_000 - 10_000);
    expect(to - now).toBeLessThan(30 * 86_400_000 + 10_000);
  });

  test("verifies its own signature and matches its private key", () => {
    expect(x.verify(x.publicKey)).toBe(true);
    expect(x.checkPrivateKey(createPrivateKey(dev.keyPem))).toBe(true);
    expect(x.publicKey.asymmetricKeyType).toBe("ec");
    expect(x.publicKey.asymmetricKeyDetails?.namedCurve).toBe("prime256v1");
  });

  test("does not match another certificate's key, nor verify under another key", () => {
    const other = generateSelfSignedCertificate();
    expect(x.checkPrivateKey(createPrivateKey(other.keyPem))).toBe(false);
    expect(x.verify(new X509Certificate(other.certPem).publicKey)).toBe(false);
  });

  test("is a leaf: CA false, extended key usage serverAuth", () => {
    expect(x.ca).toBe(false);
    expect(x.keyUsage).toEqual(["1.3.6.1.5.5.7.3.1"]);
  });

  test("fingerprint256 equals node's, in its format", () => {
    expect(dev.fingerprint256).toBe(x.fingerprint256);
    expect(fingerprint256(dev.certPem)).toBe(x.fingerprint256);
    expect(dev.fingerprint256).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
  });

  test("serial numbers are random and positive", () => {
    const serials = new Set(Array.from({ length: 10 }, () => new X509Certificate(generateSelfSignedCertificate().certPem).serialNumber));
    expect(serials.size).toBe(10);
    for (const s of serials) expect(parseInt(s.slice(0, 2), 16) & 0x80).toBe(0);
  });
});

describe("generateSelfSignedCertificate: options", () => {
  test("custom CN, names and validity", () => {
    const c = generateSelfSignedCertificate({ commonName: "game.example", altNames: ["game.example", "*.game.example", "10.1.2.3"], validDays: 1 });
    const x = new X509Certificate(c.certPem);
    expect(x.subject).toBe("CN=game.example");
    expect(x.subjectAltName).toBe("DNS:game.example, DNS:*.game.example, IP Address:10.1.2.3");
    expect(new Date(x.validTo).getTime() - Date.now()).toBeLessThan(86_400_000 + 10_000);
    // checkHost returns the certificate name that matched.
    expect(x.checkHost("eu.game.example")).toBe("*.game.example");
  });

  test("a validity past 2049 is encoded as GeneralizedTime and still parses", () => {
    const x = new X509Certificate(generateSelfSignedCertificate({ validDays: 36_500 }).certPem);
    expect(new Date(x.validTo).getUTCFullYear()).toBeGreaterThanOrEqual(2050);
    expect(x.verify(x.publicKey)).toBe(true);
  });

  test("no altNames leaves the extension out (GeneralNames must not be empty)", () => {
    const x = new X509Certificate(generateSelfSignedCertificate({ altNames: [] }).certPem);
    expect(x.subjectAltName).toBeUndefined();
    expect(x.verify(x.publicKey)).toBe(true);
  });

  test.each([
    ["::", "0:0:0:0:0:0:0:0"],
    ["2001:db8::1", "2001:DB8:0:0:0:0:0:1"],
    ["fe80::1:2", "FE80:0:0:0:0:0:1:2"],
    ["1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"],
    ["1::", "1:0:0:0:0:0:0:0"],
    ["::ffff:10.0.0.1", "0:0:0:0:0:FFFF:A00:1"],
    ["64:ff9b::192.0.2.33", "64:FF9B:0:0:0:0:C000:221"],
  ])("IPv6 %s is encoded as %s", (ip, expected) => {
    const x = new X509Certificate(generateSelfSignedCertificate({ altNames: [ip] }).certPem);
    expect(x.subjectAltName).toBe(`IP Address:${expected}`);
  });

  test("random IPv6 addresses in full, compressed and dotted forms round-trip (property)", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 8, maxLength: 8 }), fc.nat(7), fc.nat(7), (groups, zs, zl) => {
        const start = Math.min(zs, 7);
        const len = Math.min(zl + 1, 8 - start);
        const g = groups.map((v, i) => (i >= start && i < start + len ? 0 : v));
        const full = g.map((v) => v.toString(16)).join(":");
        const compressed = `${g.slice(0, start).map((v) => v.toString(16)).join(":")}::${g.slice(start + len).map((v) => v.toString(16)).join(":")}`;
        const dotted = `${g.slice(0, 6).map((v) => v.toString(16)).join(":")}:${g[6]! >> 8}.${g[6]! & 0xff}.${g[7]! >> 8}.${g[7]! & 0xff}`;
        const x = new X509Certificate(generateSelfSignedCertificate({ altNames: [full, compressed, dotted] }).certPem);
        const expected = `IP Address:${g.map((v) => v.toString(16).toUpperCase()).join(":")}`;
        expect(x.subjectAltName).toBe([expected, expected, expected].join(", "));
      }),
      { numRuns: 25 },
    );
  });

  test.each([
    ["an empty commonName", { commonName: "" }],
    ["a 65-byte commonName", { commonName: "x".repeat(65) }],
    ["a non-ASCII DNS name", { altNames: ["bücher.example"] }],
    ["a DNS name with a space", { altNames: ["a b"] }],
    ["an IPv6 zone id", { altNames: ["fe80::1%eth0"] }],
    ["altNames not strings", { altNames: [5 as unknown as string] }],
    ["validDays 0", { validDays: 0 }],
    ["validDays NaN", { validDays: Number.NaN }],
  ])("%s throws FASTNET_INVALID_ARGUMENT", (_n, opts) => {
    expect(() => generateSelfSignedCertificate(opts)).toThrow(expect.objectContaining({ code: "FASTNET_INVALID_ARGUMENT" }));
  });

  test.each([["not a pem"], [""], ["-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----"]])("fingerprint256(%p) throws FASTNET_INVALID_ARGUMENT", (bad) => {
    expect(() => fingerprint256(bad)).toThrow(expect.objectContaining({ code: "FASTNET_INVALID_ARGUMENT" }));
  });
});

describe("a real TLS 1.3 handshake with node:tls", () => {
  const ctx = Buffer.alloc(0);
  let serverExporter: Buffer | undefined;
  const server = tls.createServer({ cert: dev.certPem, key: dev.keyPem, minVersion: "TLSv1.3" }, (socket) => {
    serverExporter = socket.exportKeyingMaterial(EXPORTER_LENGTH, EXPORTER_LABEL, ctx);
    socket.end();
  });
  const listening = new Promise<number>((resolve) => server.listen(0, "127.0.0.1", () => resolve((server.address() as AddressInfo).port)));
  afterAll(() => {
    server.close();
  });

  function connect(opts: tls.ConnectionOptions): Promise<tls.TLSSocket> {
    return listening.then(
      (port) =>
        new Promise((resolve, reject) => {
          const socket = tls.connect({ host: "127.0.0.1", port, minVersion: "TLSv1.3", ...opts }, () => resolve(socket));
          socket.once("error", reject);
        }),
    );
  }

  test("succeeds with ca: certPem and servername localhost; exporters match on both ends", async () => {
    const t = performance.now();
    const socket = await connect({ ca: dev.certPem, servername: "localhost" });
    const ms = performance.now() - t;
    try {
      expect(socket.authorized).toBe(true);
      expect(socket.getProtocol()).toBe("TLSv1.3");
      expect(socket.getPeerCertificate().fingerprint256).toBe(dev.fingerprint256);
      const clientExporter = socket.exportKeyingMaterial(EXPORTER_LENGTH, EXPORTER_LABEL, ctx);
      await new Promise((r) => socket.once("end", r));
      expect(clientExporter.length).toBe(64);
      expect(serverExporter?.toString("hex")).toBe(clientExporter.toString("hex"));
      console.log(`TLS 1.3 handshake with the dev certificate: ${ms.toFixed(2)} ms (first connection)`);
    } finally {
      socket.destroy();
    }
  });

  test("succeeds by IP address (checks the IP SAN) without a servername", async () => {
    const socket = await connect({ ca: dev.certPem });
    expect(socket.authorized).toBe(true);
    socket.destroy();
  });

  test("fails without ca: the self-signed certificate is rejected", async () => {
    // Not DEPTH_ZERO_SELF_SIGNED_CERT: the TLS library counts a certificate as self-signed only if its keyUsage
    // allows keyCertSign, and this leaf's keyUsage is digitalSignature alone, so it is an unverifiable leaf.
    await expect(connect({ servername: "localhost" })).rejects.toMatchObject({ code: "UNABLE_TO_VERIFY_LEAF_SIGNATURE" });
  });

  test("fails with ca but a name the certificate does not carry", async () => {
    await expect(connect({ ca: dev.certPem, servername: "example.com" })).rejects.toMatchObject({ code: "ERR_TLS_CERT_ALTNAME_INVALID" });
  });

  test("fails when trusting a different dev certificate", async () => {
    const other = generateSelfSignedCertificate();
    const err = await connect({ ca: other.certPem, servername: "localhost" }).then(
      (s) => {
        s.destroy();
        return undefined;
      },
      (e: NodeJS.ErrnoException) => e,
    );
    expect(err?.code).toMatch(/SELF_SIGNED|UNABLE_TO_VERIFY|CERT_SIGNATURE_FAILURE/);
  });
});

const openssl = Bun.which("openssl");

describe.skipIf(openssl === null)("openssl x509 (optional)", () => {
  const dir = mkdtempSync(join(tmpdir(), "fastnet-cert-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test("openssl parses it as X.509 v3 with the expected extensions", () => {
    const file = join(dir, "cert.pem");
    writeFileSync(file, dev.certPem);
    const r = Bun.spawnSync([openssl!, "x509", "-in", file, "-noout", "-text"]);
    const text = r.stdout.toString();
    expect(r.exitCode).toBe(0);
    expect(text).toContain("Version: 3 (0x2)");
    expect(text).toContain("Signature Algorithm: ecdsa-with-SHA256");
    expect(text).toContain("NIST CURVE: P-256");
    expect(text).toContain("DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1");
    expect(text).toMatch(/Basic Constraints: critical\s+CA:FALSE/);
    expect(text).toMatch(/Key Usage: critical\s+Digital Signature\n/);
    expect(text).toMatch(/Extended Key Usage:\s+TLS Web Server Authentication/);
  });

  test("openssl asn1parse accepts the DER", () => {
    const file = join(dir, "cert2.pem");
    writeFileSync(file, dev.certPem);
    expect(Bun.spawnSync([openssl!, "asn1parse", "-in", file]).exitCode).toBe(0);
  });
});
