/**
 * The TLS 1.3 control channel (RFC 8446) that keys a UDP session.
 *
 * The client opens TLS over TCP to the server and verifies it (CA chain, or a
 * pinned SHA-256 certificate fingerprint). Both sides then derive the session
 * secrets from the TLS exporter (RFC 8446 §7.5, label EXPORTER-fastnet-v1):
 * no key is ever sent, and neither side invents one for the other. Over the
 * TLS stream the server sends one WELCOME frame (PROTOCOL.md "Secure
 * handshake"): the UDP port, a session handle and a one-time binding token.
 * The client's first UDP datagram is sealed with the derived key, names the
 * handle and carries the token; only then does the server bind its address.
 *
 * Listener DoS limits: concurrent pending handshakes, a per-IP token bucket,
 * and a handshake timeout enforced here (Bun reports ERR_TLS_HANDSHAKE_TIMEOUT
 * but leaves the socket open).
 */
import net from "node:net";
import tls from "node:tls";
import { ErrorCode, FastnetError } from "@fastnet/core/protocol";
import { deriveDirectionSecrets, EXPORTER_LABEL, EXPORTER_LENGTH } from "./keys.ts";
import { Session } from "./session.ts";

export const ALPN = "fastnet/1";
/** RFC 8446 §7.5: in TLS 1.3 an absent and an empty exporter context are the same. */
const NO_CONTEXT = Buffer.alloc(0);
export const WELCOME_TYPE = 1;
export const WELCOME_VERSION = 1;
export const TOKEN_SIZE = 16;
/** type(1) version(1) udpPort(2) handle(4) tokenLen(1) token(16) lifetimeMs(4) */
export const WELCOME_SIZE = 1 + 1 + 2 + 4 + 1 + TOKEN_SIZE + 4;

export interface TlsServerOptions {
  host: string;
  /** TCP port; 0 = any. */
  port: number;
  certPem: string;
  keyPem: string;
  /** UDP port the client should bind to (announced in WELCOME). */
  udpPort: number;
  /** Concurrent TCP connections that have not finished the TLS handshake. Default 128. */
  maxPendingHandshakes?: number;
  /** Handshakes longer than this are cut, ms. Default 5000. */
  handshakeTimeoutMs?: number;
  /** Per source IP: burst of new connections allowed. Default 20. */
  perIpBurst?: number;
  /** Per source IP: sustained new connections per second. Default 10. */
  perIpPerSecond?: number;
  /** How long a client has to bind UDP after TLS, ms. Default 10000. */
  sessionLifetimeMs?: number;
  /** A session was established; the UDP side must accept its first datagram. */
  onSession(session: Session, close: () => void): void;
}

export interface TlsServerStats {
  connections: number;
  handshakes: number;
  rejectedPending: number;
  rejectedRate: number;
  timeouts: number;
  failed: number;
}

/** Token bucket per IP, in a bounded map (oldest buckets evicted first). */
class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  constructor(private readonly burst: number, private readonly perSecond: number, private readonly maxEntries = 100_000) {}

  allow(ip: string, now: number): boolean {
    let b = this.buckets.get(ip);
    if (b === undefined) {
      if (this.buckets.size >= this.maxEntries) this.buckets.delete(this.buckets.keys().next().value as string);
      b = { tokens: this.burst, at: now };
      this.buckets.set(ip, b);
    }
    b.tokens = Math.min(this.burst, b.tokens + ((now - b.at) / 1000) * this.perSecond);
    b.at = now;
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }
}

export class TlsControlServer {
  readonly stats: TlsServerStats = { connections: 0, handshakes: 0, rejectedPending: 0, rejectedRate: 0, timeouts: 0, failed: 0 };
  private readonly pending = new Map<string, { raw: net.Socket; timer: ReturnType<typeof setTimeout> }>();
  private readonly handles = new Set<number>();

  private constructor(private readonly server: tls.Server, readonly port: number) {}

  static async listen(opts: TlsServerOptions): Promise<TlsControlServer> {
    const maxPending = opts.maxPendingHandshakes ?? 128;
    const timeoutMs = opts.handshakeTimeoutMs ?? 5000;
    const lifetimeMs = opts.sessionLifetimeMs ?? 10_000;
    const limiter = new RateLimiter(opts.perIpBurst ?? 20, opts.perIpPerSecond ?? 10);
    const server = tls.createServer({
      key: opts.keyPem,
      cert: opts.certPem,
      minVersion: "TLSv1.3",
      maxVersion: "TLSv1.3",
      ALPNProtocols: [ALPN],
    });
    let self: TlsControlServer | undefined;
    server.on("connection", (raw: net.Socket) => {
      const s = self!;
      s.stats.connections++;
      const ip = raw.remoteAddress ?? "?";
      if (!limiter.allow(ip, performance.now())) {
        s.stats.rejectedRate++;
        raw.destroy();
        return;
      }
      if (s.pending.size >= maxPending) {
        s.stats.rejectedPending++;
        raw.destroy();
        return;
      }
      const key = `${ip}|${raw.remotePort}`;
      const timer = setTimeout(() => {
        s.stats.timeouts++;
        s.pending.delete(key);
        raw.destroy();
      }, timeoutMs);
      s.pending.set(key, { raw, timer });
      raw.once("close", () => {
        const p = s.pending.get(key);
        if (p?.raw === raw) {
          clearTimeout(p.timer);
          s.pending.delete(key);
        }
      });
    });
    // Expected noise from scanners and cut handshakes: counted, never thrown.
    // `self` is unset while listen() is still failing (e.g. EADDRINUSE): that error is reported by listen.
    server.on("tlsClientError", () => void (self !== undefined && self.stats.failed++));
    server.on("error", () => void (self !== undefined && self.stats.failed++));
    server.on("secureConnection", (socket: tls.TLSSocket) => {
      const s = self!;
      const key = `${socket.remoteAddress ?? "?"}|${socket.remotePort}`;
      const p = s.pending.get(key);
      if (p !== undefined) {
        clearTimeout(p.timer);
        s.pending.delete(key);
      }
      socket.on("error", () => void s.stats.failed++);
      const exporter = socket.exportKeyingMaterial(EXPORTER_LENGTH, EXPORTER_LABEL, NO_CONTEXT);
      if (!exporter || exporter.length !== EXPORTER_LENGTH) {
        s.stats.failed++;
        socket.destroy();
        return;
      }
      const { clientToServer, serverToClient } = deriveDirectionSecrets(new Uint8Array(exporter));
      const handle = s.newHandle();
      const token = new Uint8Array(TOKEN_SIZE);
      crypto.getRandomValues(token);
      const now = performance.now();
      const session = new Session(handle, token, false, clientToServer, serverToClient, now, now + lifetimeMs);
      s.stats.handshakes++;
      const frame = encodeWelcome(opts.udpPort, handle, token, lifetimeMs);
      let closed = false;
      const close = (): void => {
        if (closed) return;
        closed = true;
        s.handles.delete(handle);
        socket.end();
      };
      // The TLS connection lives until UDP is bound or the session lifetime passes.
      const lifetime = setTimeout(close, lifetimeMs);
      socket.once("close", () => {
        clearTimeout(lifetime);
        s.handles.delete(handle);
      });
      socket.write(frame);
      opts.onSession(session, close);
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(opts.port, opts.host, () => {
        server.off("error", reject);
        resolve();
      });
    }).catch((err: unknown) => {
      throw new FastnetError(ErrorCode.SOCKET, `could not listen on tcp ${opts.host}:${opts.port}`, { cause: err });
    });
    const addr = server.address();
    self = new TlsControlServer(server, typeof addr === "object" && addr !== null ? addr.port : opts.port);
    return self;
  }

  get pendingHandshakes(): number {
    return this.pending.size;
  }

  private newHandle(): number {
    const b = new Uint32Array(1);
    for (;;) {
      crypto.getRandomValues(b);
      const h = b[0]!;
      if (h !== 0 && !this.handles.has(h)) {
        this.handles.add(h);
        return h;
      }
    }
  }

  close(): Promise<void> {
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.raw.destroy();
    }
    this.pending.clear();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

export function encodeWelcome(udpPort: number, handle: number, token: Uint8Array, lifetimeMs: number): Uint8Array {
  const out = new Uint8Array(WELCOME_SIZE);
  const dv = new DataView(out.buffer);
  out[0] = WELCOME_TYPE;
  out[1] = WELCOME_VERSION;
  dv.setUint16(2, udpPort);
  dv.setUint32(4, handle);
  out[8] = TOKEN_SIZE;
  out.set(token, 9);
  dv.setUint32(9 + TOKEN_SIZE, Math.min(0xffffffff, lifetimeMs));
  return out;
}

export interface Welcome {
  udpPort: number;
  handle: number;
  token: Uint8Array;
  lifetimeMs: number;
}

/** Parses a WELCOME frame; undefined if malformed. */
export function decodeWelcome(buf: Uint8Array): Welcome | undefined {
  if (buf.length !== WELCOME_SIZE || buf[0] !== WELCOME_TYPE || buf[1] !== WELCOME_VERSION || buf[8] !== TOKEN_SIZE) return undefined;
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const udpPort = dv.getUint16(2);
  const handle = dv.getUint32(4);
  if (udpPort === 0 || handle === 0) return undefined;
  return { udpPort, handle, token: buf.slice(9, 9 + TOKEN_SIZE), lifetimeMs: dv.getUint32(9 + TOKEN_SIZE) };
}

export interface TlsClientOptions {
  host: string;
  port: number;
  /** SNI and the name checked against the certificate. Default "localhost" for IP hosts, else the host. */
  servername?: string;
  /** Trusted CA certificates (PEM). Without `ca` or `fingerprint`, the system CAs are used. */
  ca?: string | string[];
  /** Pin the server certificate by SHA-256 fingerprint ("AB:CD:..." or plain hex): for self-signed certificates. */
  fingerprint?: string;
  /** Skip all certificate verification. Anyone on the path can impersonate the server. Logs a warning. */
  dangerouslySkipCertificateVerification?: boolean;
  timeoutMs?: number;
}

export interface ClientHandshake {
  session: Session;
  welcome: Welcome;
  /** The server certificate's SHA-256 fingerprint, as verified. */
  fingerprint256: string;
}

export function normalizeFingerprint(fp: string): string {
  const hex = fp.replace(/[^0-9a-fA-F]/g, "").toUpperCase();
  return hex.match(/.{2}/g)?.join(":") ?? "";
}

/** Runs the TLS 1.3 handshake, verifies the server, derives the session and reads WELCOME. */
export function tlsHandshake(opts: TlsClientOptions): Promise<ClientHandshake> {
  const timeoutMs = opts.timeoutMs ?? 5000;
  const pinned = opts.fingerprint !== undefined ? normalizeFingerprint(opts.fingerprint) : undefined;
  if (pinned !== undefined && pinned.length !== 95) {
    throw new FastnetError(ErrorCode.INVALID_ARGUMENT, `argument 'fingerprint' must be a SHA-256 fingerprint (32 bytes hex), got ${JSON.stringify(opts.fingerprint)}`);
  }
  const skip = opts.dangerouslySkipCertificateVerification === true;
  if (skip) {
    console.warn("fastnet: WARNING: certificate verification is disabled (dangerouslySkipCertificateVerification); anyone on the path can impersonate the server");
  }
  const isIp = net.isIP(opts.host) !== 0;
  const servername = opts.servername ?? (isIp ? "localhost" : opts.host);
  return new Promise<ClientHandshake>((resolve, reject) => {
    let settled = false;
    let exporter: Uint8Array | undefined;
    let fingerprint256 = "";
    const received: Uint8Array[] = [];
    let receivedBytes = 0;
    const socket = tls.connect({
      host: opts.host,
      port: opts.port,
      servername,
      ALPNProtocols: [ALPN],
      minVersion: "TLSv1.3",
      maxVersion: "TLSv1.3",
      ...(opts.ca !== undefined ? { ca: opts.ca } : {}),
      // Pinning replaces chain validation; the TLS handshake still proves possession of the pinned key.
      rejectUnauthorized: !(skip || pinned !== undefined),
    });
    const fail = (code: (typeof ErrorCode)[keyof typeof ErrorCode], message: string, cause?: unknown): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      reject(new FastnetError(code, message, cause === undefined ? undefined : { cause }));
    };
    const timer = setTimeout(() => fail(ErrorCode.HANDSHAKE_FAILED, `TLS handshake with ${opts.host}:${opts.port} timed out after ${timeoutMs} ms`), timeoutMs);
    socket.on("error", (err: NodeJS.ErrnoException) => {
      const certCodes = ["DEPTH_ZERO_SELF_SIGNED_CERT", "SELF_SIGNED_CERT_IN_CHAIN", "UNABLE_TO_VERIFY_LEAF_SIGNATURE", "CERT_HAS_EXPIRED", "ERR_TLS_CERT_ALTNAME_INVALID", "UNABLE_TO_GET_ISSUER_CERT_LOCALLY", "CERT_SIGNATURE_FAILURE"];
      if (err.code !== undefined && certCodes.includes(err.code)) {
        fail(ErrorCode.CERTIFICATE_REJECTED, `server certificate rejected (${err.code}): pass { ca } or { fingerprint } for a self-signed certificate`, err);
      } else {
        fail(ErrorCode.HANDSHAKE_FAILED, `TLS connection to ${opts.host}:${opts.port} failed: ${err.message}`, err);
      }
    });
    socket.on("secureConnect", () => {
      const cert = socket.getPeerCertificate();
      fingerprint256 = cert?.fingerprint256 ?? "";
      if (pinned !== undefined && normalizeFingerprint(fingerprint256) !== pinned) {
        fail(ErrorCode.CERTIFICATE_REJECTED, `server certificate fingerprint ${fingerprint256 || "(none)"} does not match the pinned ${pinned}`);
        return;
      }
      const ekm = socket.exportKeyingMaterial(EXPORTER_LENGTH, EXPORTER_LABEL, NO_CONTEXT);
      if (!ekm) {
        fail(ErrorCode.HANDSHAKE_FAILED, "TLS exporter unavailable");
        return;
      }
      exporter = new Uint8Array(ekm);
    });
    socket.on("data", (chunk: Uint8Array) => {
      if (settled) return;
      received.push(chunk);
      receivedBytes += chunk.length;
      if (receivedBytes < WELCOME_SIZE) return;
      const buf = new Uint8Array(receivedBytes);
      let off = 0;
      for (const c of received) {
        buf.set(c, off);
        off += c.length;
      }
      const welcome = decodeWelcome(buf);
      if (welcome === undefined || exporter === undefined) {
        fail(ErrorCode.HANDSHAKE_FAILED, "the server sent an invalid WELCOME frame");
        return;
      }
      settled = true;
      clearTimeout(timer);
      const { clientToServer, serverToClient } = deriveDirectionSecrets(exporter);
      const now = performance.now();
      const session = new Session(welcome.handle, welcome.token, true, clientToServer, serverToClient, now, now + welcome.lifetimeMs);
      // The server ends the TLS connection once UDP is bound; the client keeps no use for it.
      socket.end();
      resolve({ session, welcome, fingerprint256: normalizeFingerprint(fingerprint256) });
    });
    socket.on("close", () => fail(ErrorCode.HANDSHAKE_FAILED, `the server closed the TLS connection before WELCOME`));
  });
}
