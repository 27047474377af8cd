/**
 * Secure server: a core Server whose endpoint carries the crypto plugin, plus
 * the TLS control listener on the same port number (TCP) that issues sessions.
 * Without a certificate it runs in dev mode with an ephemeral self-signed
 * ECDSA P-256 certificate and prints the fingerprint clients must pin.
 */
import { listen, type ListenOptions, type Peer, type Server, type FastnetEvent, type SendOptions, ErrorCode, FastnetError } from "@fastnet/core";
import {
  CryptoServerPlugin, generateSelfSignedCertificate, fingerprint256, TlsControlServer,
  type CryptoPluginOptions, type TlsServerStats,
} from "@fastnet/crypto";

export type CreateServerOptions = Omit<ListenOptions, "insecurePlaintext"> & {
  /** PEM certificate chain. Omit both cert and key for dev mode (ephemeral self-signed). */
  cert?: string;
  /** PEM private key. */
  key?: string;
  /** TLS listener limits. */
  tls?: {
    maxPendingHandshakes?: number;
    handshakeTimeoutMs?: number;
    perIpBurst?: number;
    perIpPerSecond?: number;
    sessionLifetimeMs?: number;
  };
  crypto?: CryptoPluginOptions;
  /** Where dev-mode notices go. Default console.log. */
  log?: (line: string) => void;
};

export class SecureServer implements AsyncIterable<FastnetEvent> {
  constructor(
    /** The UDP server underneath (core API). */
    readonly server: Server,
    readonly tls: TlsControlServer,
    readonly plugin: CryptoServerPlugin,
    /** SHA-256 fingerprint of the certificate, "AB:CD:...": what clients pin for self-signed certificates. */
    readonly fingerprint256: string,
    /** True when the certificate is an ephemeral dev certificate. */
    readonly devCertificate: boolean,
    readonly certPem: string,
  ) {}

  get address(): { host: string; port: number } {
    return this.server.address;
  }

  get port(): number {
    return this.server.address.port;
  }

  get peers(): Peer[] {
    return this.server.peers;
  }

  /** Synchronous event handler (see core's `onEvent`): the lowest-latency way to receive. */
  set onEvent(fn: ((ev: FastnetEvent) => void) | undefined) {
    this.server.onEvent = fn;
  }

  get onEvent(): ((ev: FastnetEvent) => void) | undefined {
    return this.server.onEvent;
  }

  poll(): FastnetEvent | undefined {
    return this.server.poll();
  }

  next(timeoutMs?: number): Promise<FastnetEvent | undefined> {
    return this.server.next(timeoutMs);
  }

  send(peer: Peer, channel: number, data: Uint8Array, options?: SendOptions): number {
    return this.server.send(peer, channel, data, options);
  }

  broadcast(channel: number, data: Uint8Array, options?: SendOptions): void {
    this.server.broadcast(channel, data, options);
  }

  disconnect(peer: Peer): void {
    this.server.disconnect(peer);
  }

  stats(): ReturnType<Server["stats"]> & { tls: TlsServerStats; crypto: CryptoServerPlugin["stats"] } {
    return { ...this.server.stats(), tls: { ...this.tls.stats }, crypto: this.plugin.stats };
  }

  [Symbol.asyncIterator](): AsyncIterator<FastnetEvent> {
    return this.server[Symbol.asyncIterator]();
  }

  async close(): Promise<void> {
    await Promise.all([this.server.close(), this.tls.close()]);
  }
}

export async function createServer(options: CreateServerOptions = {}): Promise<SecureServer> {
  const { cert, key, tls: tlsOptions = {}, crypto: cryptoOptions, log = console.log, plugins = [], host = "0.0.0.0", port = 0, ...rest } = options;
  if ((cert === undefined) !== (key === undefined)) {
    throw new FastnetError(ErrorCode.INVALID_CONFIG, "options 'cert' and 'key' go together: give both (production) or neither (dev mode)");
  }
  const dev = cert === undefined;
  const material = dev ? generateSelfSignedCertificate() : { certPem: cert!, keyPem: key!, fingerprint256: fingerprint256(cert!) };
  const plugin = new CryptoServerPlugin(cryptoOptions);
  // Crypto last: it seals whatever the other plugins produced.
  // TCP and UDP share the port number. With port 0 the UDP port is picked first and its TCP
  // twin may be taken: try a few UDP ports before giving up.
  const attempts = port === 0 ? 5 : 1;
  for (let attempt = 1; ; attempt++) {
    const server = await listen({ ...rest, host, port, plugins: [...plugins, plugin] });
    try {
      const control = await TlsControlServer.listen({
        host,
        port: server.address.port,
        certPem: material.certPem,
        keyPem: material.keyPem,
        udpPort: server.address.port,
        ...tlsOptions,
        onSession: (session, close) => plugin.addSession(session, close),
      });
      if (dev) {
        log(`fastnet: dev mode, ephemeral self-signed certificate; clients pin fingerprint ${material.fingerprint256}`);
      }
      return new SecureServer(server, control, plugin, material.fingerprint256, dev, material.certPem);
    } catch (err) {
      await server.close();
      if (attempt >= attempts) throw err;
    }
  }
}
