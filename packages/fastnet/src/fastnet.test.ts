/**
 * End-to-end over real sockets on 127.0.0.1: TLS 1.3 over TCP, then
 * ChaCha20-Poly1305 over UDP. Certificate verification (pinned fingerprint,
 * CA, wrong pin, no pin), no plaintext on the wire (through a UDP relay that
 * records every datagram), listener limits, and spoofed UDP floods.
 */
import { afterEach, describe, expect, test } from "bun:test";
import net from "node:net";
import { connect as connectUdp, type FastnetEvent } from "@fastnet/core";
import { CryptoClientPlugin, TlsControlServer, generateSelfSignedCertificate, tlsHandshake } from "@fastnet/crypto";
import { Channel, connect, createServer, ErrorCode, type SecureClient, type SecureServer } from "./index.ts";

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((c) => c().catch(() => {})));
});

async function echoServer(options: Parameters<typeof createServer>[0] = {}): Promise<SecureServer> {
  const server = await createServer({ host: "127.0.0.1", port: 0, log: () => {}, ...options });
  closers.push(() => server.close());
  void (async () => {
    for await (const ev of server) if (ev.type === "message" && ev.peer.state === "connected") server.send(ev.peer, ev.channel, ev.data);
  })();
  return server;
}

async function collect(client: { next(ms?: number): Promise<FastnetEvent | undefined> }, n: number, ms = 5000): Promise<FastnetEvent[]> {
  const out: FastnetEvent[] = [];
  const until = performance.now() + ms;
  while (out.filter((e) => e.type === "message").length < n && performance.now() < until) {
    const ev = await client.next(Math.max(1, until - performance.now()));
    if (ev) out.push(ev);
  }
  return out;
}

const PATTERN = new TextEncoder().encode("SECRET-GAME-STATE-0123456789abcdef");

describe("fastnet over real TLS and UDP", () => {
  test("a dev-mode server and a client pinning its fingerprint echo on every channel", async () => {
    const server = await echoServer();
    expect(server.devCertificate).toBe(true);
    expect(server.fingerprint256).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    const client = await connect({ host: "127.0.0.1", port: server.port }, { fingerprint: server.fingerprint256 });
    closers.push(() => client.close());
    expect(client.serverFingerprint256).toBe(server.fingerprint256);
    for (const ch of [Channel.Reliable, Channel.Unreliable, Channel.ReliableUnordered, Channel.Sequenced]) client.send(ch, new Uint8Array([ch, 42]));
    const evs = await collect(client, 4);
    const got = evs.flatMap((e) => (e.type === "message" ? [[e.channel, ...e.data]] : [])).sort();
    expect(got).toEqual([[0, 0, 42], [1, 1, 42], [2, 2, 42], [3, 3, 42]]);
    expect(client.stats().crypto.opened).toBeGreaterThan(0);
    expect(server.stats().tls.handshakes).toBe(1);
  });

  test("a client trusting the certificate as its CA connects", async () => {
    const server = await echoServer();
    const client = await connect(`udp://127.0.0.1:${server.port}`, { ca: server.certPem });
    closers.push(() => client.close());
    client.send(Channel.Reliable, PATTERN);
    const evs = await collect(client, 1);
    expect(evs.find((e) => e.type === "message")).toMatchObject({ data: PATTERN });
  });

  test("a production-style server with PEM files verifies the same way", async () => {
    const cert = generateSelfSignedCertificate({ commonName: "game.example", altNames: ["game.example", "127.0.0.1"] });
    const server = await echoServer({ cert: cert.certPem, key: cert.keyPem });
    expect(server.devCertificate).toBe(false);
    expect(server.fingerprint256).toBe(cert.fingerprint256);
    const client = await connect({ host: "127.0.0.1", port: server.port }, { ca: cert.certPem, servername: "game.example" });
    closers.push(() => client.close());
    client.send(Channel.Reliable, PATTERN);
    expect((await collect(client, 1)).some((e) => e.type === "message")).toBe(true);
  });

  test("a wrong pinned fingerprint is refused with a clear error", async () => {
    const server = await echoServer();
    const wrong = server.fingerprint256.replace(/^../, server.fingerprint256.startsWith("00") ? "11" : "00");
    const err = await connect({ host: "127.0.0.1", port: server.port }, { fingerprint: wrong }).catch((e) => e);
    expect(err.code).toBe(ErrorCode.CERTIFICATE_REJECTED);
    expect(err.message).toContain("does not match");
    expect(server.peers.length).toBe(0);
  });

  test("a self-signed certificate without a pin or CA is refused", async () => {
    const server = await echoServer();
    const err = await connect({ host: "127.0.0.1", port: server.port }).catch((e) => e);
    expect(err.code).toBe(ErrorCode.CERTIFICATE_REJECTED);
    expect(err.message).toContain("fingerprint");
  });

  test("a certificate for another name is refused even when its CA is trusted", async () => {
    const cert = generateSelfSignedCertificate({ commonName: "other.example", altNames: ["other.example"] });
    const server = await echoServer({ cert: cert.certPem, key: cert.keyPem });
    const err = await connect({ host: "127.0.0.1", port: server.port }, { ca: cert.certPem, servername: "game.example" }).catch((e) => e);
    expect(err.code).toBe(ErrorCode.CERTIFICATE_REJECTED);
  });

  test("the insecure opt-out is loudly named and warns", async () => {
    const server = await echoServer();
    const warnings: string[] = [];
    const warn = console.warn;
    console.warn = (...args: unknown[]) => void warnings.push(args.join(" "));
    try {
      const client = await connect({ host: "127.0.0.1", port: server.port }, { dangerouslySkipCertificateVerification: true });
      closers.push(() => client.close());
    } finally {
      console.warn = warn;
    }
    expect(warnings.join("\n")).toContain("certificate verification is disabled");
  });

  test("datagrams captured on the wire (through a UDP relay) carry no plaintext", async () => {
    const server = await echoServer();
    const seen: Uint8Array[] = [];
    let clientPort = 0;
    const relay = await Bun.udpSocket({
      hostname: "127.0.0.1",
      port: 0,
      socket: {
        data(s, data, port) {
          seen.push(new Uint8Array(data));
          if (port === server.port) s.send(data, clientPort, "127.0.0.1");
          else {
            clientPort = port;
            s.send(data, server.port, "127.0.0.1");
          }
        },
      },
    });
    closers.push(async () => relay.close());
    const hs = await tlsHandshake({ host: "127.0.0.1", port: server.port, fingerprint: server.fingerprint256 });
    const client = await connectUdp({ host: "127.0.0.1", port: relay.port }, { plugins: [new CryptoClientPlugin(hs.session)] });
    closers.push(() => client.close());
    for (let ch = 0; ch < 4; ch++) client.send(ch, PATTERN);
    const big = new Uint8Array(20_000);
    for (let i = 0; i + PATTERN.length <= big.length; i += PATTERN.length) big.set(PATTERN, i);
    client.send(Channel.Reliable, big);
    const evs = await collect(client, 5);
    expect(evs.filter((e) => e.type === "message").length).toBe(5);
    expect(seen.length).toBeGreaterThan(20);
    const needle = Buffer.from(PATTERN.subarray(0, 12));
    for (const d of seen) expect(Buffer.from(d).includes(needle)).toBe(false);
  });

  test("a flood of random datagrams to the UDP port allocates no peer and gets no reply", async () => {
    const server = await echoServer();
    let replies = 0;
    const attacker = await Bun.udpSocket({ hostname: "127.0.0.1", port: 0, socket: { data() { replies++; } } });
    closers.push(async () => attacker.close());
    const d = new Uint8Array(1200);
    for (let i = 0; i < 2000; i++) {
      for (let j = 0; j < d.length; j += 4) d[j] = (i * 131 + j * 7) & 0xff;
      d[0] = 0xf1;
      d[1] = (i % 6) + 1;
      attacker.send(d.subarray(0, 20 + (i % 1180)), server.port, "127.0.0.1");
    }
    await Bun.sleep(200);
    expect(server.peers.length).toBe(0);
    expect(server.stats().pendingHandshakes).toBe(0);
    expect(replies).toBe(0);
    expect(server.stats().datagramsReceived).toBeGreaterThan(1000);
    // Real clients are unaffected.
    const client = await connect({ host: "127.0.0.1", port: server.port }, { fingerprint: server.fingerprint256 });
    closers.push(() => client.close());
    expect(client.peer.state).toBe("connected");
  });
});

describe("TLS listener limits", () => {
  const cert = generateSelfSignedCertificate();

  async function listener(opts: Partial<Parameters<typeof TlsControlServer.listen>[0]>): Promise<TlsControlServer> {
    const l = await TlsControlServer.listen({ host: "127.0.0.1", port: 0, certPem: cert.certPem, keyPem: cert.keyPem, udpPort: 9, onSession: (_s, close) => close(), ...opts });
    closers.push(() => l.close());
    return l;
  }

  function rawConnect(port: number): Promise<{ closedAfter: Promise<number> }> {
    return new Promise((resolve) => {
      const t0 = performance.now();
      const sock = net.connect(port, "127.0.0.1", () => {
        resolve({ closedAfter: new Promise((r) => sock.once("close", () => r(performance.now() - t0))) });
      });
      sock.on("error", () => {});
      closers.push(async () => void sock.destroy());
    });
  }

  test("handshakes that never finish are cut after the handshake timeout", async () => {
    const l = await listener({ handshakeTimeoutMs: 200 });
    const a = await rawConnect(l.port);
    const closedAfter = await Promise.race([a.closedAfter, Bun.sleep(3000).then(() => -1)]);
    expect(closedAfter).toBeGreaterThan(0);
    expect(l.stats.timeouts).toBe(1);
    expect(l.pendingHandshakes).toBe(0);
  });

  test("the pending-handshake limit refuses extra half-open connections and recovers", async () => {
    const l = await listener({ maxPendingHandshakes: 2, handshakeTimeoutMs: 300 });
    await rawConnect(l.port);
    await rawConnect(l.port);
    const third = await rawConnect(l.port);
    const closed = await Promise.race([third.closedAfter, Bun.sleep(3000).then(() => -1)]);
    expect(closed).toBeGreaterThan(0);
    expect(l.stats.rejectedPending).toBeGreaterThanOrEqual(1);
    // Once the half-open ones time out, a real handshake succeeds.
    await Bun.sleep(400);
    const hs = await tlsHandshake({ host: "127.0.0.1", port: l.port, fingerprint: cert.fingerprint256 });
    expect(hs.welcome.udpPort).toBe(9);
  });

  test("a source IP over its rate is refused", async () => {
    const l = await listener({ perIpBurst: 2, perIpPerSecond: 0.001 });
    const results = await Promise.all(
      [0, 1, 2, 3].map(() => tlsHandshake({ host: "127.0.0.1", port: l.port, fingerprint: cert.fingerprint256, timeoutMs: 2000 }).then(() => "ok", (e) => e.code)),
    );
    expect(results.filter((r) => r === "ok").length).toBe(2);
    expect(l.stats.rejectedRate).toBe(2);
  });
});

describe("connect failures", () => {
  test("connecting where no server listens fails with a handshake error", async () => {
    const probe = await createServer({ host: "127.0.0.1", port: 0, log: () => {} });
    const port = probe.port;
    await probe.close();
    const err = await connect({ host: "127.0.0.1", port }, { fingerprint: "00".repeat(32), timeoutMs: 1000 }).catch((e) => e);
    expect(err.code).toBe(ErrorCode.HANDSHAKE_FAILED);
  });

  test("a fingerprint that is not 32 bytes of hex is an argument error", async () => {
    expect(() => tlsHandshake({ host: "127.0.0.1", port: 1, fingerprint: "abc" })).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT }));
  });

  test("a port whose TCP side is taken fails with FASTNET_SOCKET instead of crashing", async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, "127.0.0.1", () => r()));
    closers.push(() => new Promise<void>((r) => blocker.close(() => r())));
    const port = (blocker.address() as net.AddressInfo).port;
    const err = await createServer({ host: "127.0.0.1", port, log: () => {} }).catch((e) => e);
    expect(err.code).toBe(ErrorCode.SOCKET);
    // Port 0 retries other port numbers until TCP and UDP both bind.
    const ok = await createServer({ host: "127.0.0.1", port: 0, log: () => {} });
    closers.push(() => ok.close());
    expect(ok.port).toBeGreaterThan(0);
  });

  test("cert without key is a configuration error", async () => {
    expect(createServer({ cert: "x", log: () => {} })).rejects.toMatchObject({ code: ErrorCode.INVALID_CONFIG });
  });
});

export type { SecureClient };
