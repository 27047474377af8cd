/**
 * The crypto plugin on the deterministic simulator: sessions made from a
 * known exporter stand in for a TLS handshake (the TLS path is tested end to
 * end in packages/fastnet). Covers tampering (every bit of a sealed
 * datagram), replay, reordering, key update under load, spoofed floods,
 * and core's plugin contract.
 */
import { describe, expect, test } from "bun:test";
import { ErrorCode, type Plugin } from "@fastnet/core/protocol";
import { createPair, createUnconnectedPair, pluginContract, type Pair } from "@fastnet/core/testing";
import { deriveDirectionSecrets } from "./keys.ts";
import { CryptoClientPlugin, CryptoServerPlugin, FLAG_KEY_PHASE } from "./plugin.ts";
import { Session } from "./session.ts";

const HANDLE = 0x1234abcd;

/** A client/server session pair as a TLS handshake would produce (fixed exporter: deterministic). */
function sessionPair(seed = 7, lifetimeMs = 60_000): { server: Session; client: Session } {
  const exporter = new Uint8Array(64).map((_, i) => (i * 31 + seed) & 0xff);
  const token = new Uint8Array(16).map((_, i) => (i * 7 + seed) & 0xff);
  const { clientToServer, serverToClient } = deriveDirectionSecrets(exporter);
  return {
    server: new Session(HANDLE, token, false, clientToServer, serverToClient, 0, lifetimeMs),
    client: new Session(HANDLE, token, true, clientToServer, serverToClient, 0, lifetimeMs),
  };
}

function plugins(keyUpdate?: { packets?: number; intervalMs?: number; previousKeyTtlMs?: number }, seed = 7): { server: CryptoServerPlugin; client: CryptoClientPlugin } {
  const s = sessionPair(seed);
  const server = new CryptoServerPlugin(keyUpdate ? { keyUpdate } : {});
  server.addSession(s.server, () => {});
  return { server, client: new CryptoClientPlugin(s.client, keyUpdate ? { keyUpdate } : {}) };
}

function securePair(opts: { seed?: number; link?: NonNullable<Parameters<typeof createPair>[0]>["link"]; keyUpdate?: Parameters<typeof plugins>[0]; capture?: boolean } = {}): Pair & { sp: CryptoServerPlugin; cp: CryptoClientPlugin } {
  const p = plugins(opts.keyUpdate);
  const pair = createPair({
    seed: opts.seed ?? 1,
    ...(opts.link ? { link: opts.link } : {}),
    capture: opts.capture ?? false,
    server: { plugins: [p.server] },
    client: { plugins: [p.client] },
  });
  return Object.assign(pair, { sp: p.server, cp: p.client });
}

const PATTERN = new TextEncoder().encode("PLAINTEXT-MUST-NOT-LEAK-0123456789");

function contains(hay: Uint8Array, needle: Uint8Array): boolean {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return true;
  }
  return false;
}

describe("crypto plugin on the simulator", () => {
  test("an encrypted pair delivers on every channel and no plaintext crosses the wire", () => {
    const pair = securePair({ capture: true, link: { latencyMs: 5 } });
    for (let ch = 0; ch < 4; ch++) pair.client.send(pair.clientPeer, ch, PATTERN);
    pair.server.send(pair.serverPeer, 0, PATTERN);
    const big = new Uint8Array(50_000);
    for (let i = 0; i < big.length; i += PATTERN.length) big.set(PATTERN.subarray(0, Math.min(PATTERN.length, big.length - i)), i);
    pair.client.send(pair.clientPeer, 0, big);
    expect(pair.runUntil(() => pair.messages("server").length === 5 && pair.messages("client").length === 1)).toBe(true);
    for (let ch = 1; ch < 4; ch++) expect(pair.messages("server", ch)).toEqual([PATTERN]);
    expect(pair.messages("server", 0)[1]).toEqual(big);
    expect(pair.captured.length).toBeGreaterThan(40);
    for (const d of pair.captured) {
      expect(contains(d.bytes, PATTERN.subarray(0, 16))).toBe(false);
      expect(d.bytes.length).toBeLessThanOrEqual(1200);
    }
    expect(pair.sp.stats.opened).toBeGreaterThan(0);
    expect(pair.cp.stats.opened).toBeGreaterThan(0);
  });

  test("every single-bit flip at every byte of a sealed datagram is rejected; the original then opens", () => {
    const pair = securePair({ capture: true, link: { latencyMs: 5 } });
    // Hold client->server traffic so the datagram under test is never delivered first (replay would mask auth).
    pair.sim.setLink(pair.clientAddress, pair.serverAddress, { loss: 1 });
    const before = pair.captured.length;
    pair.client.send(pair.clientPeer, 1, PATTERN);
    pair.runFor(2);
    const sealed = pair.captured.slice(before).find((c) => c.from === "client" && (c.bytes[1]! & 0x0f) === 5 && c.bytes.length > 40)!.bytes;
    expect(sealed).toBeDefined();
    const now = pair.sim.now;
    const delivered = (): number => pair.messages("server", 1).length;
    for (let byte = 0; byte < sealed.length; byte++) {
      for (let bit = 0; bit < 8; bit++) {
        const m = sealed.slice();
        m[byte]! ^= 1 << bit;
        pair.server.handleDatagram(now, pair.clientAddress, m);
        pair.drainEvents();
        if (delivered() !== 0) throw new Error(`flip of byte ${byte} bit ${bit} was accepted`);
      }
    }
    const drops = pair.server.stats().drops;
    const rejected = drops.plugin + drops["bad-version"] + drops["bad-type"] + drops["unknown-connection"];
    expect(rejected).toBe(sealed.length * 8);
    expect(pair.sp.stats.failures.auth).toBeGreaterThan(sealed.length * 8 - 60);
    pair.server.handleDatagram(now, pair.clientAddress, sealed);
    pair.drainEvents();
    expect(pair.messages("server", 1)).toEqual([PATTERN]);
  });

  test("replayed datagrams are rejected and reordered ones within the window are accepted", () => {
    const pair = securePair({ capture: true, link: { latencyMs: 5 } });
    pair.sim.setLink(pair.clientAddress, pair.serverAddress, { loss: 1 });
    const before = pair.captured.length;
    for (let i = 0; i < 40; i++) {
      pair.client.send(pair.clientPeer, 1, new Uint8Array([i, 1, 2, 3]));
      pair.runFor(1);
    }
    const held = pair.captured.slice(before).filter((c) => c.from === "client").map((c) => c.bytes);
    expect(held.length).toBeGreaterThanOrEqual(40);
    // Reverse order: every one is new to the replay window.
    const now = pair.sim.now;
    for (const d of held.slice().reverse()) pair.server.handleDatagram(now, pair.clientAddress, d);
    pair.drainEvents();
    const got = pair.messages("server", 1).map((m) => m[0]);
    expect(new Set(got).size).toBe(40);
    const replayBefore = pair.sp.stats.failures.replay;
    for (const d of held) pair.server.handleDatagram(now, pair.clientAddress, d);
    pair.drainEvents();
    expect(pair.messages("server", 1).length).toBe(40);
    expect(pair.sp.stats.failures.replay - replayBefore).toBe(held.length);
  });

  for (const seed of [1, 2, 3]) {
    test(`key updates under sustained traffic with loss lose nothing on reliable channels (seed ${seed})`, () => {
      const pair = securePair({ seed, keyUpdate: { packets: 20, intervalMs: 1e9 }, link: { latencyMs: 10, jitterMs: 3, loss: 0.05, reorder: 0.05, duplicate: 0.02 } });
      const N = 3000;
      let sent = 0;
      const ok = pair.runUntil(() => {
        while (sent < N && pair.clientPeer.stats().queuedBytes < 20_000) {
          // 100-byte messages: ~11 per datagram, so 3,000 of them take ~270 datagrams and many key updates.
          const m = new Uint8Array(100);
          new DataView(m.buffer).setUint32(0, sent, true);
          pair.client.send(pair.clientPeer, 0, m);
          sent++;
        }
        return pair.messages("server", 0).length >= N;
      }, 120_000);
      const got = pair.messages("server", 0).map((m) => new DataView(m.buffer, m.byteOffset).getUint32(0, true));
      expect(ok, `seed ${seed}`).toBe(true);
      expect(got, `seed ${seed}`).toEqual(Array.from({ length: N }, (_, i) => i));
      expect(pair.cp.stats.sendKeyUpdates, `seed ${seed}`).toBeGreaterThan(5);
      expect(pair.sp.stats.recvKeyUpdates, `seed ${seed}`).toBe(pair.cp.stats.sendKeyUpdates);
      expect(pair.sp.stats.sendKeyUpdates, `seed ${seed}`).toBeGreaterThan(0);
    });
  }

  test("the key phase bit on the wire flips with each update", () => {
    const pair = securePair({ capture: true, keyUpdate: { packets: 10, intervalMs: 1e9 }, link: { latencyMs: 2 } });
    for (let i = 0; i < 200; i++) {
      pair.client.send(pair.clientPeer, 0, new Uint8Array([i]));
      pair.runFor(1);
    }
    expect(pair.runUntil(() => pair.messages("server", 0).length === 200)).toBe(true);
    const phases = pair.captured.filter((c) => c.from === "client" && (c.bytes[1]! & 0x0f) === 5).map((c) => (c.bytes[1]! & FLAG_KEY_PHASE) !== 0);
    const flips = phases.filter((p, i) => i > 0 && p !== phases[i - 1]).length;
    expect(flips).toBe(pair.cp.stats.sendKeyUpdates);
    expect(flips).toBeGreaterThan(3);
  });

  test("a flood of random and spoofed datagrams allocates no peer state and gets no reply", () => {
    const pair = createUnconnectedPair({ server: { plugins: [plugins().server] }, client: { plugins: [plugins().client] } });
    const random = new Uint32Array(1);
    const sentBefore = pair.server.stats().datagramsSent;
    for (let i = 0; i < 5000; i++) {
      const len = 6 + (i % 1300);
      const d = new Uint8Array(len);
      for (let j = 0; j < len; j++) d[j] = (Math.imul(i + 1, 2654435761) >>> (j % 24)) & 0xff;
      d[0] = 0xf1;
      d[1] = (i % 6) + 1;
      if (i % 3 === 0) {
        // A connect request naming a real session handle, but not sealed with its key.
        d[1] = 1;
        d[6] = 0x12; d[7] = 0x34; d[8] = 0xab; d[9] = 0xcd;
      }
      random[0] = i;
      pair.server.handleDatagram(pair.sim.now, { host: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, port: 1000 + (i % 60000) }, d);
    }
    pair.drainEvents();
    expect(pair.server.stats().peers).toBe(0);
    expect(pair.server.stats().pendingHandshakes).toBe(0);
    pair.runFor(10);
    expect(pair.server.stats().datagramsSent).toBe(sentBefore);
    // The real client still connects afterwards.
    const peer = pair.connect();
    expect(pair.runUntil(() => peer.state === "connected")).toBe(true);
  });

  test("a connect request with the wrong token is denied; an unknown or expired session is dropped", () => {
    const s = sessionPair();
    const server = new CryptoServerPlugin();
    server.addSession(s.server, () => {});
    const wrong = new Session(HANDLE, new Uint8Array(16), true, ...secretsOf(7), 0, 60_000);
    const pair = createUnconnectedPair({ server: { plugins: [server] }, client: { plugins: [new CryptoClientPlugin(wrong)] } });
    const peer = pair.connect();
    expect(pair.runUntil(() => peer.state === "disconnected")).toBe(true);
    expect(pair.disconnects("client")[0]).toMatchObject({ reason: "denied", detail: "bad token" });

    const expired = sessionPair(8, 100);
    const server2 = new CryptoServerPlugin();
    server2.addSession(expired.server, () => {});
    const pair2 = createUnconnectedPair({ seed: 2, server: { plugins: [server2] }, client: { plugins: [new CryptoClientPlugin(expired.client)] } });
    pair2.runFor(200);
    const peer2 = pair2.connect();
    expect(pair2.runUntil(() => peer2.state === "disconnected", 10_000)).toBe(true);
    expect(pair2.disconnects("client")[0]).toMatchObject({ reason: "handshake-timeout" });
    expect(server2.stats.failures["unknown-session"]).toBeGreaterThan(0);
  });

  test("a bound session closes its TLS connection and its token cannot bind a second client", () => {
    const s = sessionPair();
    let closed = 0;
    const server = new CryptoServerPlugin();
    server.addSession(s.server, () => closed++);
    const pair = createPair({ server: { plugins: [server] }, client: { plugins: [new CryptoClientPlugin(s.client)] } });
    expect(pair.serverPeer.state).toBe("connected");
    expect(closed).toBe(1);
    expect(server.pendingSessions).toBe(0);
    const again = sessionPair();
    const thief = createUnconnectedPair({ seed: 3, server: { plugins: [new CryptoServerPlugin()] }, client: { plugins: [new CryptoClientPlugin(again.client)] } });
    const peer = thief.connect();
    expect(thief.runUntil(() => peer.state === "disconnected", 10_000)).toBe(true);
  });

  test("without the crypto plugin on the server, the endpoint refuses to start (secure by default)", () => {
    const err = (() => { try { createUnconnectedPair({ server: { insecurePlaintext: false }, client: { insecurePlaintext: false } }); } catch (e) { return e as { code?: string }; } return undefined; })();
    expect(err?.code).toBe(ErrorCode.INSECURE_NOT_ALLOWED);
  });
});

function secretsOf(seed: number): [Uint8Array, Uint8Array] {
  const exporter = new Uint8Array(64).map((_, i) => (i * 31 + seed) & 0xff);
  const { clientToServer, serverToClient } = deriveDirectionSecrets(exporter);
  return [clientToServer, serverToClient];
}

pluginContract((): Plugin => plugins().server, {
  name: "fastnet-crypto (core plugin contract)",
  secure: true,
  makeServerPlugin: () => plugins().server,
  makeClientPlugin: () => plugins().client,
});
