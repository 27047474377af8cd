/**
 * UdpTransport: the Bun UDP socket under the endpoint runner. Batches sends
 * into one `sendMany` (one sendmmsg), keeps what the kernel refused with
 * EAGAIN for the `drain` event, and turns every socket error into a counter:
 * nothing here throws after bind.
 *
 * Facts about Bun 1.4.4 this relies on (measured, see RUNTIME-NOTES.md):
 * - `sendMany` returns how many datagrams went out. It stops at the first
 *   datagram the kernel refuses (EAGAIN, or EMSGSIZE in mid-batch), does not
 *   keep the rest, and throws when the FIRST datagram fails or when any
 *   address is not an IP literal / any port is out of range (checked before
 *   anything is sent).
 * - `sendMany` and `send` copy synchronously: the kernel copies the bytes
 *   inside the call, so the caller may reuse its buffers once the call returns.
 * - The error handler is called as `error(err)`; ICMP port unreachable arrives
 *   as ECONNREFUSED and, without a handler, is an uncaught error.
 * - A dual-stack ("::") socket reports IPv4 senders as "::ffff:a.b.c.d" and
 *   accepts plain IPv4 destinations.
 */
import { ErrorCode, FastnetError, configError } from "../protocol/errors.ts";
import type { Address } from "../protocol/types.ts";
import { getSocketBuffer, setSocketBuffer } from "./sockopt.ts";

export interface UdpBindOptions {
  /** Local address, an IP literal. "0.0.0.0" (default) for IPv4, "::" for dual-stack IPv6. */
  host?: string;
  /** Local port; 0 (default) picks a free one. */
  port?: number;
  /** SO_RCVBUF request, bytes. Best effort (see `bufferSizeApplied`). */
  recvBufferBytes?: number;
  /** SO_SNDBUF request, bytes. Best effort (see `bufferSizeApplied`). */
  sendBufferBytes?: number;
  /** SO_REUSEPORT: several sockets share the port (kernel load-balances). Default false. */
  reusePort?: boolean;
  /** IPV6_V6ONLY on a "::" socket: refuse IPv4. Default false (dual-stack). */
  ipv6Only?: boolean;
  /** Datagrams kept while the socket refuses sends (EAGAIN); beyond it new ones are dropped. Default 4096. */
  maxBacklog?: number;
}

export interface UdpTransportStats {
  datagramsSent: number;
  datagramsReceived: number;
  bytesSent: number;
  bytesReceived: number;
  /** sendMany calls that sent at least one datagram. */
  batchesSent: number;
  /** Datagrams the socket refused, by error code (EMSGSIZE, ENOBUFS, ERR_INVALID_ARG_TYPE for a hostname or bad port...). */
  sendErrors: Record<string, number>;
  /** Datagrams dropped because the EAGAIN backlog was full or the transport was closed. */
  sendDropped: number;
  /** `drain` events: the socket became writable again (Bun 1.4.4 also fires one after the first send). */
  drainEvents: number;
  /** Errors reported by the socket's error handler, by code (ECONNREFUSED is ICMP port unreachable). */
  socketErrors: Record<string, number>;
  /** Received datagrams larger than Bun's receive buffer (MSG_TRUNC); dropped. */
  datagramsTruncated: number;
  /** Exceptions thrown by the onDatagram / onDrain callbacks; caught. */
  callbackErrors: number;
}

export interface BoundAddress extends Address {
  readonly family: "IPv4" | "IPv6";
}

export type DatagramHandler = (data: Uint8Array, port: number, host: string) => void;

/** What the runner needs from a transport; UdpTransport is the real one. */
export interface BatchTransport {
  /** Appends a datagram to the pending batch. `data` must stay unchanged until `flushBatch()` returns. */
  queue(data: Uint8Array, port: number, host: string): void;
  /** Sends the pending batch (one sendMany). */
  flushBatch(): void;
  /** Sets the receive callback (replaces any previous one). `data` is only valid during the call. */
  onDatagram(cb: DatagramHandler | undefined): void;
  /** Called when the socket became writable again after EAGAIN. */
  onDrain(cb: (() => void) | undefined): void;
  /** Datagrams waiting for `drain`. */
  readonly backlogLength: number;
  readonly closed: boolean;
  close(): void;
}

type Packet = Uint8Array | number | string;

/** The part of Bun's unconnected UDP socket the transport uses (a fake one serves in tests). */
export interface UdpSocketLike {
  sendMany(packets: readonly Packet[]): number;
  send(data: Uint8Array, port: number, host: string): boolean;
  close(): void;
  readonly closed: boolean;
  /** Replaces the socket's handlers (Bun's `reload`). */
  reload?(handlers: UdpSocketHandlers): void;
  readonly address?: { address: string; port: number; family: string };
  readonly fd?: number;
}

/** Bun's handler shape. `error` takes `(err)` in practice but `(socket, err)` in the types: both are read. */
export interface UdpSocketHandlers {
  data(socket: unknown, data: Uint8Array, port: number, host: string, flags?: { truncated?: boolean }): void;
  drain(socket: unknown): void;
  error(a: unknown, b?: unknown): void;
}

const SENT = 0;
const FAILED = 1;
const AGAIN = 2;

const FLAG_REUSEPORT = 4;
const FLAG_IPV6ONLY = 8;

export class UdpTransport implements BatchTransport {
  private socket: UdpSocketLike;
  private readonly maxBacklog: number;
  private readonly handlers: UdpSocketHandlers;
  private datagramCb: DatagramHandler | undefined;
  private drainCb: (() => void) | undefined;

  /** Pending batch in sendMany's flat form [data, port, host, ...]. */
  private readonly batch: Packet[] = [];
  private batchCount = 0;

  /** EAGAIN backlog: a ring of owned copies, oldest at blHead. */
  private blData: (Uint8Array | undefined)[] = [];
  private blPort: number[] = [];
  private blHost: string[] = [];
  private blHead = 0;
  private blCount = 0;

  private _closed = false;
  private _address: BoundAddress;

  /** False when a requested buffer size did not take effect; `bufferSizeNote` says why. */
  bufferSizeApplied = true;
  bufferSizeNote: string | undefined;

  private datagramsSent = 0;
  private datagramsReceived = 0;
  private bytesSent = 0;
  private bytesReceived = 0;
  private batchesSent = 0;
  private sendDropped = 0;
  private drainEvents = 0;
  private datagramsTruncated = 0;
  private callbackErrors = 0;
  private readonly sendErrors: Record<string, number> = {};
  private readonly socketErrors: Record<string, number> = {};

  private constructor(socket: UdpSocketLike | null, maxBacklog: number) {
    this.maxBacklog = maxBacklog;
    // Arrow functions bound once: Bun calls these per datagram.
    this.handlers = {
      data: (_s, data, port, host, flags) => this.receive(data, port, host, flags?.truncated === true),
      drain: () => this.drained(),
      error: (a, b) => this.socketError(b ?? a),
    };
    this.socket = socket ?? CLOSED_SOCKET;
    this._address = { host: "", port: 0, family: "IPv4" };
  }

  /** Binds a UDP socket. Throws FastnetError (SOCKET) if the bind fails, (INVALID_CONFIG) on bad options. */
  static async bind(options: UdpBindOptions = {}): Promise<UdpTransport> {
    const { host = "0.0.0.0", port = 0, recvBufferBytes, sendBufferBytes, reusePort = false, ipv6Only = false } = options;
    const maxBacklog = options.maxBacklog ?? 4096;
    if (typeof host !== "string" || host.length === 0) throw configError("host", "an IP address string", host);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw configError("port", "an integer in [0, 65535]", port);
    checkSize("recvBufferBytes", recvBufferBytes);
    checkSize("sendBufferBytes", sendBufferBytes);
    if (!Number.isInteger(maxBacklog) || maxBacklog < 0) throw configError("maxBacklog", "an integer >= 0", maxBacklog);

    const t = new UdpTransport(null, maxBacklog);
    // `flags` is untyped in Bun 1.4.4: 4 = SO_REUSEPORT, 8 = IPV6_V6ONLY.
    const flags = (reusePort ? FLAG_REUSEPORT : 0) | (ipv6Only ? FLAG_IPV6ONLY : 0);
    let socket: UdpSocketLike;
    try {
      socket = (await Bun.udpSocket({
        hostname: host,
        port,
        binaryType: "uint8array",
        socket: t.handlers,
        ...(flags !== 0 ? { flags } : {}),
      } as Parameters<typeof Bun.udpSocket<"uint8array">>[0])) as unknown as UdpSocketLike;
    } catch (err) {
      const code = errorCode(err);
      throw new FastnetError(ErrorCode.SOCKET, `cannot bind UDP ${host}:${port} (${code})`, { cause: err });
    }
    t.attach(socket);
    t.applyBufferSizes(recvBufferBytes, sendBufferBytes);
    return t;
  }

  /**
   * Wraps a socket created elsewhere (or a fake one in tests). Its handlers are
   * replaced through `reload`, so it must have been created with
   * `binaryType: "uint8array"`.
   */
  static adopt(socket: UdpSocketLike, options: { maxBacklog?: number } = {}): UdpTransport {
    const maxBacklog = options.maxBacklog ?? 4096;
    if (!Number.isInteger(maxBacklog) || maxBacklog < 0) throw configError("maxBacklog", "an integer >= 0", maxBacklog);
    const t = new UdpTransport(null, maxBacklog);
    t.attach(socket);
    socket.reload?.(t.handlers);
    return t;
  }

  private attach(socket: UdpSocketLike): void {
    this.socket = socket;
    const a = socket.address;
    if (a !== undefined) this._address = { host: a.address, port: a.port, family: a.family === "IPv6" ? "IPv6" : "IPv4" };
  }

  private applyBufferSizes(recv: number | undefined, send: number | undefined): void {
    const notes: string[] = [];
    if (recv !== undefined) {
      const r = setSocketBuffer(this.socket.fd, "recv", recv);
      if (!r.ok) notes.push(r.note);
    }
    if (send !== undefined) {
      const r = setSocketBuffer(this.socket.fd, "send", send);
      if (!r.ok) notes.push(r.note);
    }
    if (notes.length > 0) {
      this.bufferSizeApplied = false;
      this.bufferSizeNote = notes.join("; ");
    }
  }

  /** The bound address. */
  get address(): BoundAddress {
    return this._address;
  }

  /**
   * Effective SO_RCVBUF from getsockopt, bytes; undefined when it cannot be
   * read. Linux reports twice the size set (it counts its bookkeeping).
   */
  get recvBufferBytes(): number | undefined {
    return this._closed ? undefined : getSocketBuffer(this.socket.fd, "recv");
  }

  /** Effective SO_SNDBUF from getsockopt, bytes; undefined when it cannot be read. */
  get sendBufferBytes(): number | undefined {
    return this._closed ? undefined : getSocketBuffer(this.socket.fd, "send");
  }

  get closed(): boolean {
    return this._closed;
  }

  get backlogLength(): number {
    return this.blCount;
  }

  /** Datagrams queued since the last flushBatch. */
  get batchLength(): number {
    return this.batchCount;
  }

  /** A snapshot of the counters. */
  get stats(): UdpTransportStats {
    return {
      datagramsSent: this.datagramsSent,
      datagramsReceived: this.datagramsReceived,
      bytesSent: this.bytesSent,
      bytesReceived: this.bytesReceived,
      batchesSent: this.batchesSent,
      sendErrors: { ...this.sendErrors },
      sendDropped: this.sendDropped,
      drainEvents: this.drainEvents,
      socketErrors: { ...this.socketErrors },
      datagramsTruncated: this.datagramsTruncated,
      callbackErrors: this.callbackErrors,
    };
  }

  onDatagram(cb: DatagramHandler | undefined): void {
    this.datagramCb = cb;
  }

  onDrain(cb: (() => void) | undefined): void {
    this.drainCb = cb;
  }

  queue(data: Uint8Array, port: number, host: string): void {
    if (this._closed) {
      this.sendDropped++;
      return;
    }
    this.batch.push(data, port, host);
    this.batchCount++;
  }

  /** Convenience: queue one datagram and flush. */
  send(data: Uint8Array, port: number, host: string): void {
    this.queue(data, port, host);
    this.flushBatch();
  }

  flushBatch(): void {
    const n = this.batchCount;
    if (n === 0) return;
    if (this.blCount > 0) {
      // Older datagrams wait for drain: keep order by queueing behind them, then retry
      // the backlog once in case a drain event was missed.
      this.toBacklog(this.batch, 0, n, false);
      this.clearBatch();
      this.sendBacklog();
      return;
    }
    this.sendFlat(this.batch, n, false);
    this.clearBatch();
  }

  close(): void {
    if (this._closed) return;
    this._closed = true;
    this.sendDropped += this.batchCount + this.blCount;
    this.clearBatch();
    this.blData = [];
    this.blPort = [];
    this.blHost = [];
    this.blCount = 0;
    this.blHead = 0;
    try {
      this.socket.close();
    } catch (err) {
      this.count(this.socketErrors, err);
    }
    this.datagramCb = undefined;
    this.drainCb = undefined;
  }

  // ---- internals ----

  private clearBatch(): void {
    this.batch.length = 0;
    this.batchCount = 0;
  }

  /**
   * Sends `count` datagrams of `flat`. A short return means the next datagram
   * was refused: one `send` of it tells EAGAIN (false: keep the rest for drain)
   * from an error (throws: count it, skip it, carry on batching). A throwing
   * sendMany sent nothing; datagrams then go one by one until the bad one is
   * found, so one bad address does not lose the others.
   */
  private sendFlat(flat: Packet[], count: number, owned: boolean): void {
    let i = 0;
    while (i < count) {
      let sent: number;
      try {
        sent = this.socket.sendMany(i === 0 ? flat : flat.slice(i * 3, count * 3));
      } catch {
        for (;;) {
          const r = this.sendOne(flat, i);
          if (r === AGAIN) {
            this.toBacklog(flat, i, count, owned);
            return;
          }
          i++;
          if (r === FAILED || i >= count) break;
        }
        continue;
      }
      sent = sent > 0 ? Math.min(sent, count - i) : 0;
      if (sent > 0) {
        this.batchesSent++;
        this.account(flat, i, i + sent);
        i += sent;
      }
      if (i >= count) return;
      const r = this.sendOne(flat, i);
      if (r === AGAIN) {
        this.toBacklog(flat, i, count, owned);
        return;
      }
      i++;
    }
  }

  private sendOne(flat: Packet[], i: number): number {
    const data = flat[i * 3] as Uint8Array;
    try {
      if (!this.socket.send(data, flat[i * 3 + 1] as number, flat[i * 3 + 2] as string)) return AGAIN;
    } catch (err) {
      this.count(this.sendErrors, err);
      return FAILED;
    }
    this.datagramsSent++;
    this.bytesSent += data.byteLength;
    return SENT;
  }

  private account(flat: Packet[], from: number, to: number): void {
    let bytes = 0;
    for (let j = from; j < to; j++) bytes += (flat[j * 3] as Uint8Array).byteLength;
    this.datagramsSent += to - from;
    this.bytesSent += bytes;
  }

  /** Keeps datagrams [from, to) of `flat` for drain; copies them unless already owned. */
  private toBacklog(flat: Packet[], from: number, to: number, owned: boolean): void {
    const cap = this.maxBacklog;
    for (let j = from; j < to; j++) {
      if (this.blCount >= cap) {
        this.sendDropped += to - j;
        return;
      }
      const data = flat[j * 3] as Uint8Array;
      const k = (this.blHead + this.blCount) % cap;
      this.blData[k] = owned ? data : data.slice();
      this.blPort[k] = flat[j * 3 + 1] as number;
      this.blHost[k] = flat[j * 3 + 2] as string;
      this.blCount++;
    }
  }

  private sendBacklog(): void {
    const n = this.blCount;
    if (n === 0 || this._closed) return;
    const cap = this.maxBacklog;
    const flat: Packet[] = new Array<Packet>(n * 3);
    for (let j = 0; j < n; j++) {
      const k = (this.blHead + j) % cap;
      flat[j * 3] = this.blData[k]!;
      flat[j * 3 + 1] = this.blPort[k]!;
      flat[j * 3 + 2] = this.blHost[k]!;
      this.blData[k] = undefined;
    }
    this.blHead = 0;
    this.blCount = 0;
    this.sendFlat(flat, n, true);
  }

  private receive(data: Uint8Array, port: number, host: string, truncated: boolean): void {
    if (truncated) {
      this.datagramsTruncated++;
      return;
    }
    this.datagramsReceived++;
    this.bytesReceived += data.byteLength;
    const cb = this.datagramCb;
    if (cb === undefined) return;
    try {
      cb(data, port, host);
    } catch {
      this.callbackErrors++;
    }
  }

  private drained(): void {
    this.drainEvents++;
    if (this.blCount > 0) this.sendBacklog();
    const cb = this.drainCb;
    if (cb === undefined) return;
    try {
      cb();
    } catch {
      this.callbackErrors++;
    }
  }

  private socketError(err: unknown): void {
    this.count(this.socketErrors, err);
  }

  private count(table: Record<string, number>, err: unknown): void {
    const code = errorCode(err);
    table[code] = (table[code] ?? 0) + 1;
  }
}

function errorCode(err: unknown): string {
  if (typeof err === "object" && err !== null) {
    const code = (err as { code?: unknown }).code;
    if (typeof code === "string" && code.length > 0) return code;
    const msg = (err as { message?: unknown }).message;
    if (typeof msg === "string" && /closed/i.test(msg)) return "ERR_SOCKET_CLOSED";
  }
  return "UNKNOWN";
}

function checkSize(option: string, v: number | undefined): void {
  if (v !== undefined && (!Number.isInteger(v) || v <= 0 || v > 0x7fffffff)) throw configError(option, "an integer in [1, 2^31-1] (bytes)", v);
}

/** Placeholder until bind attaches the real socket: everything is refused, nothing throws. */
const CLOSED_SOCKET: UdpSocketLike = {
  sendMany: () => 0,
  send: () => false,
  close: () => undefined,
  closed: true,
};
