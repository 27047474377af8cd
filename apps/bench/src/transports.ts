/**
 * RTT transports of scenario 1, in the shape of the core RTT harness
 * (packages/core/bench/rtt.ts: RttTransport = how to start an echo, how to
 * ping it). raw Bun.udpSocket, fastnet plaintext and encrypted come from the
 * existing harnesses (core and fastnet bench files, reused as is); this file
 * adds node:dgram, TLS 1.3 over TCP (node:tls) and WebSocket (Bun.serve +
 * the WebSocket client). Spin mode for the added ones is a setImmediate loop
 * on both ends, as fastnet's and the raw harness's spin mode is.
 */
import dgram from "node:dgram";
import tls from "node:tls";
import { coreTransports, makePing, rawTransport, SIZE, type Pinger, type RttTransport } from "../../../packages/core/bench/rtt.ts";
import { transports as fastnetTransports } from "../../../packages/fastnet/bench/rtt.ts";
import { keepAwake } from "./proc.ts";

export { SIZE };
export type { Pinger, RttTransport };

/** The bench certificate (self-signed; generated once by the fastnet bench module, inherited by children through the env). */
export function benchCert(): { cert: string; key: string; fingerprint: string } {
  const cert = process.env.FASTNET_BENCH_CERT;
  const key = process.env.FASTNET_BENCH_KEY;
  const fingerprint = process.env.FASTNET_BENCH_FP;
  if (cert === undefined || key === undefined || fingerprint === undefined) throw new Error("bench certificate missing from the environment");
  return { cert, key, fingerprint };
}

function renamed(t: RttTransport | undefined, name: string, baseline = false): RttTransport {
  if (t === undefined) throw new Error(`transport for ${name} not found in the reused harness`);
  return { name, ...(baseline ? { baseline: true } : {}), echo: (spin) => t.echo(spin), pinger: (port, spin) => t.pinger(port, spin) };
}

export const dgramTransport: RttTransport = {
  name: "node-dgram",
  async echo(spin) {
    const s = dgram.createSocket("udp4");
    s.on("message", (msg, rinfo) => s.send(msg, rinfo.port, rinfo.address));
    await new Promise<void>((r) => s.bind(0, "127.0.0.1", () => r()));
    if (spin) keepAwake();
    return s.address().port;
  },
  async pinger(port, spin) {
    const s = dgram.createSocket("udp4");
    await new Promise<void>((r) => s.bind(0, "127.0.0.1", () => r()));
    const payload = Buffer.alloc(SIZE);
    const p = makePing(() => s.send(payload, port, "127.0.0.1"));
    s.on("message", () => p.reply());
    const stop = spin ? keepAwake() : () => {};
    return { ping: p.ping, close: async () => { stop(); s.close(); } };
  },
};

/** TLS 1.3 over TCP with node:tls (both ends), TCP_NODELAY, certificate pinned by fingerprint. */
export const tlsTransport: RttTransport = {
  name: "tls13-tcp",
  async echo(spin) {
    const { cert, key } = benchCert();
    const server = tls.createServer({ cert, key, minVersion: "TLSv1.3" }, (socket) => {
      socket.setNoDelay(true);
      socket.on("data", (d) => socket.write(d));
      socket.on("error", () => {});
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    if (spin) keepAwake();
    return (server.address() as { port: number }).port;
  },
  async pinger(port, spin) {
    const { cert, fingerprint } = benchCert();
    const socket = tls.connect({
      host: "127.0.0.1",
      port,
      ca: cert,
      minVersion: "TLSv1.3",
      checkServerIdentity: (_host, c) => (c.fingerprint256 === fingerprint ? undefined : new Error("certificate fingerprint mismatch")),
    });
    await new Promise<void>((resolve, reject) => {
      socket.once("secureConnect", () => resolve());
      socket.once("error", reject);
    });
    if (socket.getProtocol() !== "TLSv1.3") throw new Error(`negotiated ${socket.getProtocol()}, not TLS 1.3`);
    socket.setNoDelay(true);
    const payload = Buffer.alloc(SIZE);
    let got = 0;
    const p = makePing(() => {
      got = 0;
      socket.write(payload);
    });
    socket.on("data", (d: Buffer) => {
      got += d.length;
      if (got >= SIZE) p.reply();
    });
    socket.on("error", () => {});
    const stop = spin ? keepAwake() : () => {};
    return { ping: p.ping, close: async () => { stop(); socket.destroy(); } };
  },
};

/** WebSocket: Bun.serve websocket echo, the runtime's WebSocket client, binary frames, no compression. */
export const wsTransport: RttTransport = {
  name: "websocket",
  async echo(spin) {
    const server = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch(req, srv) {
        return srv.upgrade(req) ? undefined : new Response("websocket only", { status: 400 });
      },
      websocket: {
        perMessageDeflate: false,
        message(ws, msg) {
          ws.send(msg);
        },
      },
    });
    if (spin) keepAwake();
    return server.port ?? 0;
  },
  async pinger(port, spin) {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
    ws.binaryType = "arraybuffer";
    await new Promise<void>((resolve, reject) => {
      ws.onopen = () => resolve();
      ws.onerror = () => reject(new Error("websocket connect failed"));
    });
    const payload = new Uint8Array(SIZE);
    const p = makePing(() => ws.send(payload));
    ws.onmessage = () => p.reply();
    const stop = spin ? keepAwake() : () => {};
    return { ping: p.ping, close: async () => { stop(); ws.close(); } };
  },
};

const byName = (list: RttTransport[], name: string): RttTransport | undefined => list.find((t) => t.name === name);

/** Scenario 1's transports, baseline first. */
export const RTT_TRANSPORTS: RttTransport[] = [
  renamed(rawTransport, "raw-udp", true),
  dgramTransport,
  renamed(byName(coreTransports, "fastnet-unreliable"), "fastnet-unreliable"),
  renamed(byName(coreTransports, "fastnet-reliable"), "fastnet-reliable"),
  renamed(byName(fastnetTransports, "encrypted-unreliable"), "fastnet-enc-unreliable"),
  renamed(byName(fastnetTransports, "encrypted-reliable"), "fastnet-enc-reliable"),
  tlsTransport,
  wsTransport,
];

export function rttTransport(name: string): RttTransport {
  const t = RTT_TRANSPORTS.find((x) => x.name === name);
  if (t === undefined) throw new Error(`unknown RTT transport '${name}' (known: ${RTT_TRANSPORTS.map((x) => x.name).join(", ")})`);
  return t;
}
