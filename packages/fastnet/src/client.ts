/**
 * Secure client: TLS 1.3 handshake (server verified by CA or pinned
 * fingerprint), then a core Client whose datagrams the crypto plugin seals
 * with keys from the TLS exporter.
 */
import { connect as connectUdp, parseAddress, type Client, type ConnectOptions, type FastnetEvent, type Peer, type SendOptions } from "@fastnet/core";
import { CryptoClientPlugin, tlsHandshake, type CryptoPluginOptions, type TlsClientOptions } from "@fastnet/crypto";

export type SecureConnectOptions = Omit<ConnectOptions, "insecurePlaintext"> &
  Pick<TlsClientOptions, "ca" | "fingerprint" | "servername" | "dangerouslySkipCertificateVerification"> & {
    /** Bound on the whole connect (TLS then UDP), ms. Default 5000. */
    timeoutMs?: number;
    crypto?: CryptoPluginOptions;
  };

export class SecureClient implements AsyncIterable<FastnetEvent> {
  constructor(
    readonly client: Client,
    readonly plugin: CryptoClientPlugin,
    /** The server certificate fingerprint that was verified. */
    readonly serverFingerprint256: string,
  ) {}

  get peer(): Peer {
    return this.client.peer;
  }

  get rttMs(): number {
    return this.client.rttMs;
  }

  /** Synchronous event handler (see core's `onEvent`): the lowest-latency way to receive. */
  set onEvent(fn: ((ev: FastnetEvent) => void) | undefined) {
    this.client.onEvent = fn;
  }

  get onEvent(): ((ev: FastnetEvent) => void) | undefined {
    return this.client.onEvent;
  }

  poll(): FastnetEvent | undefined {
    return this.client.poll();
  }

  next(timeoutMs?: number): Promise<FastnetEvent | undefined> {
    return this.client.next(timeoutMs);
  }

  send(channel: number, data: Uint8Array, options?: SendOptions): number {
    return this.client.send(channel, data, options);
  }

  stats(): ReturnType<Client["stats"]> & { crypto: CryptoClientPlugin["stats"] } {
    return { ...this.client.stats(), crypto: this.plugin.stats };
  }

  [Symbol.asyncIterator](): AsyncIterator<FastnetEvent> {
    return this.client[Symbol.asyncIterator]();
  }

  disconnect(): Promise<void> {
    return this.client.disconnect();
  }

  close(): Promise<void> {
    return this.client.close();
  }
}

/** Connects to a fastnet server: `connect("udp://host:port", { fingerprint })` or `{ ca }`. */
export async function connect(to: string | { host: string; port: number }, options: SecureConnectOptions = {}): Promise<SecureClient> {
  const { ca, fingerprint, servername, dangerouslySkipCertificateVerification, timeoutMs = 5000, crypto: cryptoOptions, plugins = [], ...rest } = options;
  const address = parseAddress(to);
  const started = performance.now();
  const hs = await tlsHandshake({
    host: address.host,
    port: address.port,
    timeoutMs,
    ...(ca !== undefined ? { ca } : {}),
    ...(fingerprint !== undefined ? { fingerprint } : {}),
    ...(servername !== undefined ? { servername } : {}),
    ...(dangerouslySkipCertificateVerification !== undefined ? { dangerouslySkipCertificateVerification } : {}),
  });
  const plugin = new CryptoClientPlugin(hs.session, cryptoOptions);
  const remaining = Math.max(1, timeoutMs - (performance.now() - started));
  const client = await connectUdp({ host: address.host, port: hs.welcome.udpPort }, { ...rest, timeoutMs: remaining, plugins: [...plugins, plugin] });
  return new SecureClient(client, plugin, hs.fingerprint256);
}
