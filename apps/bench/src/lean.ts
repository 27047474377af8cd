/**
 * A lean fastnet client fleet for the scale scenario's load generator. One
 * process plays N players; with N full `connect()` clients (a UdpTransport,
 * an EndpointRunner with its own timer and microtask flushes, an async event
 * iterator each) the load process saturated its core at 500 clients x 60 Hz
 * and the latency it measured was its own queueing. Here each player is the
 * sans-IO Endpoint on its own UDP socket (so the server sees N addresses and
 * N connections, as with real players), driven by one shared 1 ms timer:
 * the same protocol and the same default configuration (ack delay, timers),
 * without the per-client driver machinery. Encrypted players run the same
 * TLS 1.3 handshake and crypto plugin as `fastnet.connect`.
 */
import { Endpoint, type Address, type Peer } from "@fastnet/core";
import { CryptoClientPlugin, tlsHandshake } from "@fastnet/crypto";

const cryptoRandom = { fill: (out: Uint8Array) => void crypto.getRandomValues(out) };
const buf = new Uint8Array(2048);

export class LeanClient {
  private readonly ep: Endpoint;
  private socket: import("bun").udp.Socket<"buffer"> | undefined;
  private readonly server: Address;
  private peer: Peer | undefined;
  deadline = Infinity;
  state: "connecting" | "connected" | "failed" = "connecting";
  private onConnected: (() => void) | undefined;

  constructor(
    server: Address,
    private readonly channel: number,
    private readonly onMessage: (data: Uint8Array) => void,
    plugin: CryptoClientPlugin | undefined,
  ) {
    this.server = server;
    this.ep = new Endpoint({ random: cryptoRandom, ...(plugin === undefined ? { insecurePlaintext: true } : { plugins: [plugin] }) });
  }

  async open(): Promise<void> {
    this.socket = await Bun.udpSocket({
      hostname: "127.0.0.1",
      port: 0,
      socket: {
        data: (_s, data) => this.receive(data),
        error() {},
      },
    });
    const connected = new Promise<void>((resolve) => {
      this.onConnected = resolve;
    });
    this.peer = this.ep.connect(performance.now(), this.server);
    this.flush(performance.now());
    await connected;
    if (this.state !== "connected") throw new Error("the server did not accept the connection");
  }

  private receive(data: Uint8Array): void {
    const now = performance.now();
    this.ep.handleDatagram(now, this.server, data);
    this.events();
    this.flush(now);
  }

  private events(): void {
    for (let ev = this.ep.pollEvent(); ev !== undefined; ev = this.ep.pollEvent()) {
      if (ev.type === "message") this.onMessage(ev.data);
      else if (ev.type === "connected") {
        this.state = "connected";
        this.onConnected?.();
      } else if (ev.type === "disconnected") {
        this.state = "failed";
        this.onConnected?.();
      }
    }
  }

  private flush(now: number): void {
    const s = this.socket!;
    for (let tx = this.ep.pollTransmit(now, buf); tx !== null; tx = this.ep.pollTransmit(now, buf)) {
      try {
        s.send(buf.subarray(0, tx.size), tx.to.port, tx.to.host);
      } catch {
        // a lost datagram, as on a real network
      }
    }
    this.deadline = this.ep.pollTimeout();
  }

  /** Runs due timers (called by the fleet's shared tick). */
  tick(now: number): void {
    if (now < this.deadline) return;
    this.ep.handleTimeout(now);
    this.events();
    this.flush(now);
  }

  send(data: Uint8Array): void {
    if (this.state !== "connected") return;
    const now = performance.now();
    this.ep.send(this.peer!, this.channel, data, undefined, now);
    this.flush(now);
  }

  close(): void {
    this.socket?.close();
  }
}

/** N lean clients and the one timer that drives their deadlines. */
export class LeanFleet {
  readonly clients: LeanClient[] = [];
  private readonly timer: ReturnType<typeof setInterval>;

  constructor() {
    this.timer = setInterval(() => this.tick(performance.now()), 1);
  }

  tick(now: number): void {
    const cs = this.clients;
    for (let i = 0; i < cs.length; i++) cs[i]!.tick(now);
  }

  /** Connects one player: plaintext to `port`, or TLS 1.3 to `port` then UDP to the port its WELCOME names. */
  async connect(port: number, channel: number, encrypted: boolean, fingerprint: string | undefined, onMessage: (data: Uint8Array) => void): Promise<LeanClient> {
    let udpPort = port;
    let plugin: CryptoClientPlugin | undefined;
    if (encrypted) {
      const hs = await tlsHandshake({ host: "127.0.0.1", port, timeoutMs: 20_000, ...(fingerprint !== undefined ? { fingerprint } : {}) });
      plugin = new CryptoClientPlugin(hs.session);
      udpPort = hs.welcome.udpPort;
    }
    const c = new LeanClient({ host: "127.0.0.1", port: udpPort }, channel, onMessage, plugin);
    this.clients.push(c);
    await c.open();
    return c;
  }

  close(): void {
    clearInterval(this.timer);
    for (const c of this.clients) c.close();
  }
}
