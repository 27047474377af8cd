/**
 * Message transports for scenarios 2-4 (throughput, scale, bad network): a
 * server that gets messages (and may reply or broadcast) and a client that
 * sends and gets messages. One shape for raw Bun.udpSocket, fastnet
 * (plaintext and encrypted, any channel) and WebSocket, so every scenario
 * drives them with the same code.
 */
import { Channel, connect as connectPlain, listen, type Peer, type Plugin } from "@fastnet/core";
import { connect as connectSecure, createServer } from "fastnet";
import { setSocketBuffer } from "../../../packages/core/src/driver/sockopt.ts";
import { benchCert } from "./transports.ts";

export interface MsgServer {
  readonly port: number;
  /** Replies to the sender of the message being handled (call it synchronously inside onMessage). */
  reply(from: unknown, data: Uint8Array): void;
  /** Sends to every client seen so far. */
  broadcast(data: Uint8Array): void;
  /** Datagrams (WebSocket: frames) received so far. */
  datagramsIn(): number;
  /** Connected clients. */
  clients(): number;
  close(): Promise<void>;
}

export interface MsgClient {
  send(data: Uint8Array): void;
  /** False when the transport's queue is full (the sender should wait a turn). */
  canSend(): boolean;
  /** Bytes queued or in flight that the transport still owes (reliable drain), 0 when idle. */
  owed(): number;
  close(): Promise<void>;
}

export interface ServeOptions {
  onMessage(data: Uint8Array, from: unknown): void;
  mtu?: number;
}

export interface ConnectOptions {
  onMessage(data: Uint8Array): void;
  mtu?: number;
  /** fastnet: one message per datagram (scheduler plugin); message packing off. */
  onePerPacket?: boolean;
  /** Queue limit for canSend(), bytes. Default 256 KiB. */
  queueLimit?: number;
}

export interface MsgTransport {
  readonly name: string;
  /** True for datagram transports whose messages can be lost (raw UDP, fastnet unreliable/sequenced). */
  readonly lossy: boolean;
  serve(opts: ServeOptions): Promise<MsgServer>;
  connect(port: number, opts: ConnectOptions): Promise<MsgClient>;
}

const QUEUE_LIMIT = 256 * 1024;
const BUFFER_BYTES = 8 << 20;

/** Scheduler slot plugin: at most one message per packet (for "unpacked" runs). */
export function onePerPacket(): Plugin {
  let took = false;
  return {
    name: "one-per-packet",
    scheduler: {
      name: "one-per-packet",
      pick(_peer, queued) {
        if (took) {
          took = false;
          return -1;
        }
        for (let c = 0; c < queued.length; c++) {
          if (queued[c]! > 0) {
            took = true;
            return c;
          }
        }
        return -1;
      },
    },
  };
}

// ---- raw Bun.udpSocket ----

export const rawUdp: MsgTransport = {
  name: "raw-udp",
  lossy: true,
  async serve(opts) {
    let n = 0;
    const known = new Map<string, { port: number; host: string }>();
    let last: { port: number; host: string } = { port: -1, host: "" };
    const socket = await Bun.udpSocket({
      hostname: "127.0.0.1",
      port: 0,
      socket: {
        data(_s, data, port, host) {
          n++;
          // The common case (same sender as last time) costs two compares, no string building.
          if (port !== last.port || host !== last.host) {
            const key = `${host}:${port}`;
            let from = known.get(key);
            if (from === undefined) {
              from = { port, host };
              known.set(key, from);
            }
            last = from;
          }
          opts.onMessage(data, last);
        },
        error() {},
      },
    });
    setSocketBuffer((socket as unknown as { fd: unknown }).fd, "recv", BUFFER_BYTES);
    setSocketBuffer((socket as unknown as { fd: unknown }).fd, "send", BUFFER_BYTES);
    const send = (to: { port: number; host: string }, data: Uint8Array): void => {
      try {
        socket.send(data, to.port, to.host);
      } catch {
        // counted as loss by the receiver
      }
    };
    return {
      port: socket.port,
      reply: (from, data) => send(from as { port: number; host: string }, data),
      broadcast: (data) => {
        for (const to of known.values()) send(to, data);
      },
      datagramsIn: () => n,
      clients: () => known.size,
      close: async () => socket.close(),
    };
  },
  async connect(port, opts) {
    const socket = await Bun.udpSocket({
      hostname: "127.0.0.1",
      port: 0,
      socket: {
        data(_s, data) {
          opts.onMessage(data);
        },
        error() {},
      },
    });
    setSocketBuffer((socket as unknown as { fd: unknown }).fd, "recv", BUFFER_BYTES);
    setSocketBuffer((socket as unknown as { fd: unknown }).fd, "send", BUFFER_BYTES);
    return {
      send: (data) => {
        try {
          socket.send(data, port, "127.0.0.1");
        } catch {
          // lost
        }
      },
      canSend: () => true,
      owed: () => 0,
      close: async () => socket.close(),
    };
  },
};

// ---- fastnet ----

interface FastnetServerLike extends AsyncIterable<{ type: string }> {
  next(ms?: number): Promise<{ type: string; peer?: Peer; data?: Uint8Array; channel?: number } | undefined>;
  poll(): { type: string; peer?: Peer; data?: Uint8Array; channel?: number } | undefined;
  send(peer: Peer, channel: number, data: Uint8Array): number;
  broadcast(channel: number, data: Uint8Array): void;
  stats(): { datagramsReceived: number };
  readonly peers: Peer[];
  close(): Promise<void>;
}

interface FastnetClientLike {
  next(ms?: number): Promise<{ type: string; data?: Uint8Array } | undefined>;
  poll(): { type: string; data?: Uint8Array } | undefined;
  send(channel: number, data: Uint8Array): number;
  readonly peer: Peer;
  close(): Promise<void>;
}

/** Drains a fastnet node's events: await one, then poll the rest synchronously (what a game loop does). */
async function eventLoop<E extends { type: string }>(node: { next(ms?: number): Promise<E | undefined>; poll(): E | undefined }, on: (ev: E) => void): Promise<void> {
  for (;;) {
    const first = await node.next();
    if (first === undefined) return;
    on(first);
    for (let ev = node.poll(); ev !== undefined; ev = node.poll()) on(ev);
  }
}

function fastnetTransport(name: string, channel: number, encrypted: boolean, lossy: boolean): MsgTransport {
  return {
    name,
    lossy,
    async serve(opts) {
      const common = { host: "127.0.0.1", port: 0, maxPeers: 4096, maxPendingHandshakes: 1024, ...(opts.mtu !== undefined ? { mtu: opts.mtu } : {}) };
      let server: FastnetServerLike;
      if (encrypted) {
        const { cert, key } = benchCert();
        server = (await createServer({
          ...common,
          cert,
          key,
          log: () => {},
          tls: { perIpBurst: 100_000, perIpPerSecond: 100_000, maxPendingHandshakes: 1024, handshakeTimeoutMs: 20_000, sessionLifetimeMs: 60_000 },
        })) as unknown as FastnetServerLike;
      } else {
        server = (await listen({ ...common, insecurePlaintext: true })) as unknown as FastnetServerLike;
      }
      void eventLoop(server, (ev) => {
        if (ev.type === "message") opts.onMessage(ev.data!, ev.peer);
      });
      const port = encrypted ? (server as unknown as { port: number }).port : (server as unknown as { address: { port: number } }).address.port;
      return {
        port,
        reply: (from, data) => void server.send(from as Peer, channel, data),
        broadcast: (data) => server.broadcast(channel, data),
        datagramsIn: () => server.stats().datagramsReceived,
        clients: () => server.peers.length,
        close: () => server.close(),
      };
    },
    async connect(port, opts) {
      const plugins = opts.onePerPacket === true ? [onePerPacket()] : [];
      const common = { timeoutMs: 20_000, plugins, ...(opts.mtu !== undefined ? { mtu: opts.mtu } : {}) };
      const client: FastnetClientLike = encrypted
        ? ((await connectSecure({ host: "127.0.0.1", port }, { ...common, fingerprint: benchCert().fingerprint })) as unknown as FastnetClientLike)
        : ((await connectPlain({ host: "127.0.0.1", port }, { ...common, insecurePlaintext: true })) as unknown as FastnetClientLike);
      void eventLoop(client, (ev) => {
        if (ev.type === "message") opts.onMessage(ev.data!);
      });
      const limit = opts.queueLimit ?? QUEUE_LIMIT;
      return {
        send: (data) => void client.send(channel, data),
        canSend: () => client.peer.stats().queuedBytes < limit,
        owed: () => {
          const s = client.peer.stats();
          return s.queuedBytes + s.bytesInFlight;
        },
        close: () => client.close(),
      };
    },
  };
}

export const fastnetUnreliable = fastnetTransport("fastnet-unreliable", Channel.Unreliable, false, true);
export const fastnetReliable = fastnetTransport("fastnet-reliable", Channel.Reliable, false, false);
export const fastnetSequenced = fastnetTransport("fastnet-sequenced", Channel.Sequenced, false, true);
export const fastnetEncUnreliable = fastnetTransport("fastnet-enc-unreliable", Channel.Unreliable, true, true);
export const fastnetEncReliable = fastnetTransport("fastnet-enc-reliable", Channel.Reliable, true, false);

// ---- WebSocket ----

export const websocket: MsgTransport = {
  name: "websocket",
  lossy: false,
  async serve(opts) {
    let n = 0;
    const sockets = new Set<import("bun").ServerWebSocket<unknown>>();
    const server = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch(req, srv) {
        return srv.upgrade(req) ? undefined : new Response("websocket only", { status: 400 });
      },
      websocket: {
        perMessageDeflate: false,
        maxPayloadLength: 16 << 20,
        backpressureLimit: 64 << 20,
        open(ws) {
          sockets.add(ws);
        },
        close(ws) {
          sockets.delete(ws);
        },
        message(ws, msg) {
          n++;
          opts.onMessage(typeof msg === "string" ? new TextEncoder().encode(msg) : msg, ws);
        },
      },
    });
    return {
      port: server.port ?? 0,
      reply: (from, data) => void (from as import("bun").ServerWebSocket<unknown>).send(data),
      broadcast: (data) => {
        for (const ws of sockets) ws.send(data);
      },
      datagramsIn: () => n,
      clients: () => sockets.size,
      close: async () => {
        await server.stop(true);
      },
    };
  },
  async connect(port, opts) {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
    ws.binaryType = "arraybuffer";
    await new Promise<void>((resolve, reject) => {
      ws.onopen = () => resolve();
      ws.onerror = () => reject(new Error("websocket connect failed"));
    });
    ws.onmessage = (ev) => opts.onMessage(new Uint8Array(ev.data as ArrayBuffer));
    const limit = opts.queueLimit ?? QUEUE_LIMIT;
    return {
      send: (data) => ws.send(data),
      canSend: () => ws.bufferedAmount < limit,
      owed: () => ws.bufferedAmount,
      close: async () => ws.close(),
    };
  },
};

export const MSG_TRANSPORTS: MsgTransport[] = [rawUdp, fastnetUnreliable, fastnetReliable, fastnetSequenced, fastnetEncUnreliable, fastnetEncReliable, websocket];

export function msgTransport(name: string): MsgTransport {
  const t = MSG_TRANSPORTS.find((x) => x.name === name);
  if (t === undefined) throw new Error(`unknown transport '${name}' (known: ${MSG_TRANSPORTS.map((x) => x.name).join(", ")})`);
  return t;
}
