/**
 * Dev-mode certificates without files or openssl: an ephemeral self-signed
 * X.509 v3 certificate (RFC 5280) for an ECDSA P-256 key, built in-process with
 * node:crypto and a minimal DER encoder (X.690).
 *
 * The certificate is a leaf for TLS servers: subject = issuer = CN, validity
 * from one hour ago (clock skew) for `validDays`, extensions subjectAltName
 * (DNS names and IPv4/IPv6 addresses), basicConstraints CA:FALSE (critical),
 * keyUsage digitalSignature (critical), extendedKeyUsage serverAuth; signed
 * ecdsa-with-SHA256. Clients trust it through `ca: certPem` or by pinning
 * `fingerprint256`.
 */

import { createHash, generateKeyPairSync, randomBytes, sign } from "node:crypto";
import { isIP } from "node:net";
import { argError } from "@fastnet/core/protocol";

export interface DevCertificate {
  certPem: string;
  keyPem: string;
  /** "AB:CD:..." uppercase hex with colons, the same format as node:tls peer cert.fingerprint256 */
  fingerprint256: string;
}

// --- DER (X.690) -------------------------------------------------------------

function derLength(n: number): number[] {
  if (n < 0x80) return [n];
  const out: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) out.unshift(v & 0xff);
  return [0x80 | out.length, ...out];
}

function tlv(tag: number, ...content: Uint8Array[]): Uint8Array {
  const body = Buffer.concat(content);
  return new Uint8Array(Buffer.concat([Uint8Array.from([tag, ...derLength(body.length)]), body]));
}

const seq = (...items: Uint8Array[]) => tlv(0x30, ...items);
const set = (...items: Uint8Array[]) => tlv(0x31, ...items);
const octets = (b: Uint8Array) => tlv(0x04, b);
/** BIT STRING with 0 unused bits (signatures, keys). */
const bits = (b: Uint8Array) => tlv(0x03, Uint8Array.of(0), b);
const explicit = (n: number, inner: Uint8Array) => tlv(0xa0 | n, inner);
const BOOLEAN_TRUE = Uint8Array.of(0x01, 0x01, 0xff);

function derInteger(n: number): Uint8Array {
  return tlv(0x02, Uint8Array.of(n));
}

function oid(dotted: string): Uint8Array {
  const arcs = dotted.split(".").map(Number);
  const out: number[] = [40 * arcs[0]! + arcs[1]!];
  for (const arc of arcs.slice(2)) {
    const enc = [arc & 0x7f];
    for (let v = Math.floor(arc / 128); v > 0; v = Math.floor(v / 128)) enc.unshift(0x80 | (v & 0x7f));
    out.push(...enc);
  }
  return tlv(0x06, Uint8Array.from(out));
}

/** RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050; always UTC with seconds. */
function derTime(d: Date): Uint8Array {
  const p = (n: number) => String(n).padStart(2, "0");
  const rest = `${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}Z`;
  const y = d.getUTCFullYear();
  if (y >= 1950 && y < 2050) return tlv(0x17, new TextEncoder().encode(p(y % 100) + rest));
  return tlv(0x18, new TextEncoder().encode(String(y).padStart(4, "0") + rest));
}

const OID = {
  commonName: "2.5.4.3",
  ecdsaWithSha256: "1.2.840.10045.4.3.2",
  subjectAltName: "2.5.29.17",
  basicConstraints: "2.5.29.19",
  keyUsage: "2.5.29.15",
  extKeyUsage: "2.5.29.37",
  serverAuth: "1.3.6.1.5.5.7.3.1",
};

function extension(id: string, critical: boolean, value: Uint8Array): Uint8Array {
  return critical ? seq(oid(id), BOOLEAN_TRUE, octets(value)) : seq(oid(id), octets(value));
}

// --- names -------------------------------------------------------------------

function ipv4Bytes(s: string): Uint8Array {
  return Uint8Array.from(s.split(".").map(Number));
}

/** IPv6 text (RFC 4291 §2.2, incl. "::" and a trailing dotted IPv4) to 16 bytes. Input already passed isIP() === 6. */
function ipv6Bytes(s: string): Uint8Array {
  let text = s;
  const lastColon = text.lastIndexOf(":");
  if (text.includes(".", lastColon)) {
    // Rewrite a trailing dotted IPv4 ("::ffff:10.0.0.1") as its two 16-bit groups.
    const v4 = ipv4Bytes(text.slice(lastColon + 1));
    text = `${text.slice(0, lastColon + 1)}${((v4[0]! << 8) | v4[1]!).toString(16)}:${((v4[2]! << 8) | v4[3]!).toString(16)}`;
  }
  const parse = (part: string) => (part === "" ? [] : part.split(":").map((h) => parseInt(h, 16)));
  const [head, rest] = text.split("::") as [string, string | undefined];
  const a = parse(head);
  const b = rest === undefined ? [] : parse(rest);
  const groups = [...a, ...new Array<number>(8 - a.length - b.length).fill(0), ...b];
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    out[2 * i] = g >>> 8;
    out[2 * i + 1] = g & 0xff;
  });
  return out;
}

/** GeneralName: dNSName [2] IA5String or iPAddress [7] OCTET STRING (4 or 16 bytes, network order), RFC 5280 §4.2.1.6. */
function generalName(name: string): Uint8Array {
  if (name.includes("%")) throw argError("altNames", "DNS names or IP addresses without a zone id", name);
  const family = isIP(name);
  if (family === 4) return tlv(0x87, ipv4Bytes(name));
  if (family === 6) return tlv(0x87, ipv6Bytes(name));
  // IA5String is ASCII; internationalized names must be given as A-labels (xn--...).
  if (!/^(\*\.)?[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*\.?$/.test(name) || name.length > 253) {
    throw argError("altNames", "DNS names (ASCII) or IP addresses", name);
  }
  return tlv(0x82, new TextEncoder().encode(name));
}

// --- PEM ---------------------------------------------------------------------

function pem(label: string, der: Uint8Array): string {
  const b64 = Buffer.from(der).toString("base64");
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

function colonHex(digest: Uint8Array): string {
  return Array.from(digest, (b) => b.toString(16).toUpperCase().padStart(2, "0")).join(":");
}

/** SHA-256 of the DER of the first certificate in certPem, as "AB:CD:..." (node:tls fingerprint256 format). */
export function fingerprint256(certPem: string): string {
  const m = typeof certPem === "string" ? /-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+)-----END CERTIFICATE-----/.exec(certPem) : null;
  const der = m ? Buffer.from(m[1]!.replace(/\s+/g, ""), "base64") : Buffer.alloc(0);
  if (der.length === 0 || der[0] !== 0x30) throw argError("certPem", "a PEM certificate", certPem);
  return colonHex(createHash("sha256").update(der).digest());
}

// --- the certificate ---------------------------------------------------------

const DAY_MS = 86_400_000;

/** Defaults: CN "localhost", altNames ["localhost", "127.0.0.1", "::1"], valid 30 days. */
export function generateSelfSignedCertificate(opts: { commonName?: string; altNames?: string[]; validDays?: number } = {}): DevCertificate {
  const commonName = opts.commonName ?? "localhost";
  const altNames = opts.altNames ?? ["localhost", "127.0.0.1", "::1"];
  const validDays = opts.validDays ?? 30;
  if (typeof commonName !== "string" || commonName.length === 0 || Buffer.byteLength(commonName) > 64) {
    throw argError("commonName", "a string of 1 to 64 bytes (RFC 5280 ub-common-name)", commonName);
  }
  if (!Array.isArray(altNames) || altNames.some((n) => typeof n !== "string")) throw argError("altNames", "an array of strings", altNames);
  if (typeof validDays !== "number" || !Number.isFinite(validDays) || validDays <= 0 || validDays > 36_500) {
    throw argError("validDays", "a number of days from >0 to 36500", validDays);
  }

  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  const spki = new Uint8Array(publicKey.export({ type: "spki", format: "der" }));

  // Positive and minimally encoded: top bit clear, next bit set so the first byte is never 0x00.
  const serial = new Uint8Array(randomBytes(16));
  serial[0] = (serial[0]! & 0x7f) | 0x40;

  const now = Math.floor(Date.now() / 1000) * 1000;
  const name = seq(set(seq(oid(OID.commonName), tlv(0x0c, new TextEncoder().encode(commonName)))));
  const sigAlg = seq(oid(OID.ecdsaWithSha256));

  const extensions: Uint8Array[] = [];
  // GeneralNames is SIZE (1..MAX): with no names, leave the extension out (the subject CN is non-empty).
  if (altNames.length > 0) extensions.push(extension(OID.subjectAltName, false, seq(...altNames.map(generalName))));
  extensions.push(
    extension(OID.basicConstraints, true, seq()),
    // digitalSignature is bit 0: one content byte 0x80 with 7 unused bits.
    extension(OID.keyUsage, true, Uint8Array.of(0x03, 0x02, 0x07, 0x80)),
    extension(OID.extKeyUsage, false, seq(oid(OID.serverAuth))),
  );

  const tbs = seq(
    explicit(0, derInteger(2)),
    tlv(0x02, serial),
    sigAlg,
    name,
    seq(derTime(new Date(now - 3_600_000)), derTime(new Date(now + validDays * DAY_MS))),
    name,
    spki,
    explicit(3, seq(...extensions)),
  );
  // node:crypto signs ECDSA as a DER Ecdsa-Sig-Value by default, which is what X.509 carries.
  const signature = new Uint8Array(sign("sha256", tbs, privateKey));
  const der = seq(tbs, sigAlg, bits(signature));

  return {
    certPem: pem("CERTIFICATE", der),
    keyPem: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
    fingerprint256: colonHex(createHash("sha256").update(der).digest()),
  };
}
