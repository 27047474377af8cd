/**
 * The game developer's API over real UDP: `listen()` for servers, `connect()`
 * for clients. Each wraps a sans-IO Endpoint, a UdpTransport and an
 * EndpointRunner. Events come three ways: a synchronous `poll()` for game
 * loops, an async iterator (`for await (const ev of server)`) or `next()`, and
 * an `onEvent` handler called synchronously as events arrive (the lowest
 * latency: no promise per event, a reply joins the flush of the datagram that
 * caused it).
 */
import { EndpointRunner } from "./driver/runner.ts";
import { UdpTransport, type UdpBindOptions } from "./driver/udp.ts";
import { Endpoint, type EndpointStats } from "./protocol/endpoint.ts";
import type { EndpointConfig } from "./protocol/config.ts";
import { ErrorCode, FastnetError, argError } from "./protocol/errors.ts";
import type { Peer } from "./protocol/plugin.ts";
import type { Address, EndpointEvent, PeerState, SendOptions } from "./protocol/types.ts";

/** Channel indexes of the default channel layout (DEFAULT_CHANNELS). */
export const Channel = {
  /** Reliable, in order (chat, RPCs, inventory). */
  Reliable: 0,
  /** Fire and forget (voice frames, effects). */
  Unreliable: 1,
  /** Reliable, delivered as it arrives (independent events). */
  ReliableUnordered: 2,
  /** Latest only: never delivers an older message after a newer one (state snapshots, input). */
  Sequenced: 3,
} as const;

export type FastnetEvent = EndpointEvent<Peer>;

export interface SocketOptions {
  /** Receive buffer size, bytes (SO_RCVBUF). Default 8 MiB, best effort. */
  recvBufferBytes?: number;
  /** Send buffer size, bytes (SO_SNDBUF). Default 8 MiB, best effort. */
  sendBufferBytes?: number;
  /**
   * Keep the event loop awake to cut receive latency (~63 µs → ~14 µs RTT on a
   * 2-vCPU VM, see RUNTIME-NOTES). Burns a CPU core while open. Default false.
   */
  spin?: boolean;
  /**
   * When queued output is sent: "microtask" (default) at the end of the callback that produced it,
   * lowest latency; "immediate" batches everything one event-loop turn produced (a whole receive
   * burst) into one sendMany, fewer syscalls for servers with many peers.
   */
  flushScheduling?: "immediate" | "microtask";
}

export type ListenOptions = Omit<EndpointConfig, "random" | "acceptConnections"> & SocketOptions & {
  /** Address to bind. Default "0.0.0.0"; use "::" for IPv6. */
  host?: string;
  /** UDP port. Default 0 (any free port). */
  port?: number;
  random?: EndpointConfig["random"];
};

export type ConnectOptions = Omit<EndpointConfig, "random" | "acceptConnections"> & SocketOptions & {
  /** Local address to bind. Default "0.0.0.0" (or "::" for an IPv6 server). */
  bindHost?: string;
  random?: EndpointConfig["random"];
};

const cryptoRandom = { fill: (out: Uint8Array) => void crypto.getRandomValues(out) };

/** Shared machinery of servers and clients: endpoint + socket + loop + event delivery. */
class Node implements AsyncIterable<FastnetEvent> {
  protected readonly endpoint: Endpoint;
  protected readonly runner: EndpointRunner;
  protected readonly transport: UdpTransport;
  private waiter: ((ev: IteratorResult<FastnetEvent>) => void) | undefined;
  private closing: Promise<void> | undefined;
  private handler: ((ev: FastnetEvent) => void) | undefined;
  private handlerErrors = 0;

  protected constructor(endpoint: Endpoint, transport: UdpTransport, spin: boolean, flushScheduling: "immediate" | "microtask" = "microtask") {
    this.endpoint = endpoint;
    this.transport = transport;
    this.runner = new EndpointRunner(endpoint, transport, { spin, flushScheduling, onEvents: () => this.wake() });
  }

  /** The local UDP address. */
  get address(): Address {
    return this.transport.address;
  }

  /**
   * Handles every event synchronously as it arrives, in order (undefined: back to poll / next / the
   * iterator). Events already queued are handed over at once. While set, poll, next and the iterator see no
   * events. A throwing handler is counted (`stats().handlerErrors`) and the next event still delivered.
   */
  set onEvent(fn: ((ev: FastnetEvent) => void) | undefined) {
    if (fn !== undefined && typeof fn !== "function") throw argError("onEvent", "a function or undefined", fn);
    this.handler = fn;
    if (fn !== undefined) this.dispatch(fn);
  }

  get onEvent(): ((ev: FastnetEvent) => void) | undefined {
    return this.handler;
  }

  /** Next event, or undefined when none is waiting. For game loops: call until undefined each tick. */
  poll(): FastnetEvent | undefined {
    return this.endpoint.pollEvent();
  }

  /**
   * Waits for the next event. Resolves undefined after `timeoutMs` or once closed.
   * One consumer at a time: use either this, poll(), or the async iterator.
   */
  next(timeoutMs = Infinity): Promise<FastnetEvent | undefined> {
    const ev = this.endpoint.pollEvent();
    if (ev !== undefined) return Promise.resolve(ev);
    if (this.closing !== undefined) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      this.waiter = (r) => {
        if (timer !== undefined) clearTimeout(timer);
        resolve(r.done ? undefined : r.value);
      };
      if (timeoutMs !== Infinity) {
        timer = setTimeout(() => {
          this.waiter = undefined;
          resolve(undefined);
        }, timeoutMs);
      }
    });
  }

  stats(): EndpointStats & { socket: UdpTransport["stats"]; handlerErrors: number } {
    return { ...this.endpoint.stats(), socket: this.transport.stats, handlerErrors: this.handlerErrors };
  }

  /** The sans-IO engine underneath, for plugins and tests. */
  get engine(): Endpoint {
    return this.endpoint;
  }

  protected sendTo(peer: Peer, channel: number, data: Uint8Array, options?: SendOptions): number {
    // The runner flushes through endpoint.onOutput.
    return this.endpoint.send(peer, channel, data, options, performance.now());
  }

  protected disconnectPeer(peer: Peer): void {
    this.endpoint.disconnect(peer, performance.now());
    this.runner.requestFlush();
  }

  /** Disconnects every peer (they are told), flushes, and closes the socket. */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.endpoint.close();
    this.closing = this.runner.closeGracefully().then(() => this.wake());
    return this.closing;
  }

  get closed(): boolean {
    return this.endpoint.isClosed;
  }

  [Symbol.asyncIterator](): AsyncIterator<FastnetEvent> {
    return {
      next: () => {
        const ev = this.endpoint.pollEvent();
        if (ev !== undefined) return Promise.resolve({ value: ev, done: false });
        if (this.closing !== undefined) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => {
          this.waiter = resolve;
        });
      },
      return: async () => ({ value: undefined, done: true }),
    };
  }

  private dispatch(fn: (ev: FastnetEvent) => void): void {
    // Drains the queue, including events the handler's own calls queue; stops once the handler is replaced.
    for (let ev = this.endpoint.pollEvent(); ev !== undefined; ev = this.handler === fn ? this.endpoint.pollEvent() : undefined) {
      try {
        fn(ev);
      } catch {
        this.handlerErrors++;
      }
    }
  }

  private wake(): void {
    const h = this.handler;
    // The handler takes what is queued; a waiting next()/iterator then only learns about closing.
    if (h !== undefined) this.dispatch(h);
    const w = this.waiter;
    if (w === undefined) return;
    const ev = this.endpoint.pollEvent();
    if (ev !== undefined) {
      this.waiter = undefined;
      w({ value: ev, done: false });
    } else if (this.closing !== undefined) {
      this.waiter = undefined;
      w({ value: undefined, done: true });
    }
  }
}

export class Server extends Node {
  static async listen(options: ListenOptions = {}): Promise<Server> {
    const { host = "0.0.0.0", port = 0, recvBufferBytes, sendBufferBytes, spin = false, flushScheduling, random, ...config } = options;
    if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) throw argError("port", "an integer in [0, 65535]", port);
    const endpoint = new Endpoint({ ...config, random: random ?? cryptoRandom, acceptConnections: true });
    const transport = await UdpTransport.bind({ host, port, ...socketBuffers(recvBufferBytes, sendBufferBytes) });
    return new Server(endpoint, transport, spin, flushScheduling);
  }

  /** Connected peers. */
  get peers(): Peer[] {
    return this.endpoint.peers();
  }

  send(peer: Peer, channel: number, data: Uint8Array, options?: SendOptions): number {
    return this.sendTo(peer, channel, data, options);
  }

  /** Sends to every connected peer. */
  broadcast(channel: number, data: Uint8Array, options?: SendOptions): void {
    const now = performance.now();
    for (const p of this.endpoint.peers()) if (p.state === "connected") this.endpoint.send(p, channel, data, options, now);
  }

  disconnect(peer: Peer): void {
    this.disconnectPeer(peer);
  }
}

export class Client extends Node {
  private _peer: Peer | undefined;

  static async connect(to: string | Address, options: ConnectOptions & { timeoutMs?: number } = {}): Promise<Client> {
    const address = parseAddress(to);
    const { bindHost, recvBufferBytes, sendBufferBytes, spin = false, flushScheduling, random, timeoutMs, ...config } = options;
    const endpoint = new Endpoint({
      ...config,
      ...(timeoutMs !== undefined ? { handshakeTimeoutMs: timeoutMs } : {}),
      random: random ?? cryptoRandom,
      acceptConnections: false,
    });
    const host = bindHost ?? (address.host.includes(":") ? "::" : "0.0.0.0");
    const transport = await UdpTransport.bind({ host, port: 0, ...socketBuffers(recvBufferBytes, sendBufferBytes) });
    const client = new Client(endpoint, transport, spin, flushScheduling);
    await client.handshake(address);
    return client;
  }

  private async handshake(to: Address): Promise<void> {
    const peer = this.endpoint.connect(performance.now(), to);
    this.runner.requestFlush();
    for (;;) {
      const ev = await this[Symbol.asyncIterator]().next();
      if (ev.done) throw new FastnetError(ErrorCode.CONNECT_FAILED, "the client was closed while connecting");
      const e = ev.value;
      if (e.peer !== peer) continue;
      if (e.type === "connected") {
        this._peer = peer;
        return;
      }
      if (e.type === "disconnected") {
        await this.close();
        throw new FastnetError(
          ErrorCode.CONNECT_FAILED,
          `could not connect to ${to.host}:${to.port}: ${e.reason}${e.detail ? ` (${e.detail})` : ""}`,
        );
      }
    }
  }

  /** The server. */
  get peer(): Peer {
    return this._peer!;
  }

  get rttMs(): number {
    return this.peer.rttMs;
  }

  send(channel: number, data: Uint8Array, options?: SendOptions): number {
    return this.sendTo(this.peer, channel, data, options);
  }

  /** Gracefully disconnects (queued reliable data first), then closes. */
  async disconnect(): Promise<void> {
    if (this._peer && this._peer.state === "connected") {
      this.disconnectPeer(this._peer);
      // Bounded: the engine itself gives up after disconnectLingerMs.
      const until = performance.now() + this.endpoint.cfg.disconnectLingerMs + 200;
      while (stateOf(this._peer) !== "disconnected" && performance.now() < until) await Bun.sleep(1);
    }
    await this.close();
  }
}

export function listen(options?: ListenOptions): Promise<Server> {
  return Server.listen(options);
}

export function connect(to: string | Address, options?: ConnectOptions & { timeoutMs?: number }): Promise<Client> {
  return Client.connect(to, options);
}

/** Parses "udp://host:port", "host:port", "[v6]:port" or an Address. Hosts must be IP literals. */
export function parseAddress(to: string | Address): Address {
  if (typeof to === "object" && to !== null) {
    if (typeof to.host === "string" && Number.isInteger(to.port) && to.port > 0 && to.port < 65536) return { host: to.host, port: to.port };
    throw argError("to", "{ host, port } with port 1..65535", to);
  }
  if (typeof to !== "string") throw argError("to", "a string 'host:port' or { host, port }", to);
  const s = to.replace(/^udp:\/\//, "");
  const m = /^\[([0-9a-fA-F:.]+)\]:(\d+)$/.exec(s) ?? /^([^:]+):(\d+)$/.exec(s);
  if (!m) throw argError("to", "'host:port', '[ipv6]:port' or 'udp://host:port'", to);
  const host = m[1] === "localhost" ? "127.0.0.1" : m[1]!;
  const port = Number(m[2]);
  if (port < 1 || port > 65535) throw argError("to", "a port in 1..65535", to);
  return { host, port };
}

/** Reads the state without TypeScript's narrowing from an earlier check: it changes under I/O. */
function stateOf(peer: Peer): PeerState {
  return peer.state;
}

function socketBuffers(recv: number | undefined, send: number | undefined): Pick<UdpBindOptions, "recvBufferBytes" | "sendBufferBytes"> {
  return { recvBufferBytes: recv ?? 8 << 20, sendBufferBytes: send ?? 8 << 20 };
}
