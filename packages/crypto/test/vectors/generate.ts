/**
 * Generates test/vectors/sealed.json: sealed fastnet datagrams under keys
 * derived from a fixed TLS exporter output, made with the real
 * CryptoClientPlugin / CryptoServerPlugin seal path. Deterministic: re-running
 * it must reproduce the file (checked by test/vectors.test.ts).
 *
 * Run: `bun packages/crypto/test/vectors/generate.ts [outDir]`
 */
import { wire } from "@fastnet/core/protocol";
import { nobleAead } from "../../src/aead.ts";
import { deriveDirectionSecrets, nextSecret, packetKey } from "../../src/keys.ts";
import { CryptoClientPlugin, CryptoServerPlugin } from "../../src/plugin.ts";
import { Session } from "../../src/session.ts";

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");
export const EXPORTER = new Uint8Array(64).map((_, i) => i);
export const TOKEN = new Uint8Array(16).map((_, i) => 0xa0 + i);
export const HANDLE = 0x01020304;

/** A plaintext core datagram: fixed header + body (what core hands the plugin). */
function coreDatagram(type: number, cid: number, body: number[]): Uint8Array {
  const b = new Uint8Array(wire.HEADER_SIZE + body.length);
  wire.writeHeader(b, type, 0, cid);
  b.set(body, wire.HEADER_SIZE);
  return b;
}

export function generate(): unknown {
  const { clientToServer, serverToClient } = deriveDirectionSecrets(EXPORTER);
  const aead = nobleAead();
  const client = new CryptoClientPlugin(new Session(HANDLE, TOKEN, true, clientToServer, serverToClient, 0, 1e9), { aead });
  const serverSession = new Session(HANDLE, TOKEN, false, clientToServer, serverToClient, 0, 1e9);
  const server = new CryptoServerPlugin({ aead });
  const ctx = { now: 0 } as never;
  server.init({ slot: 0 } as never);
  const peer = { slots: [serverSession] } as never;
  const vectors: unknown[] = [];
  const add = (name: string, description: string, plugin: CryptoClientPlugin | CryptoServerPlugin, p: unknown, plain: Uint8Array, direction: number): void => {
    const buf = new Uint8Array(2048);
    buf.set(plain);
    const session = plugin === client ? client.session : serverSession;
    const pn = session.send.pn;
    const n = plugin.sealDatagram(buf, plain.length, p as never, ctx);
    // Read after sealing: a due key update happens inside sealDatagram.
    vectors.push({ name, description, direction, pn, keyPhase: session.send.phase, plaintext: hex(plain), sealed: hex(buf.subarray(0, n)) });
  };
  // A connect request body: recvWindow, maxMessage, 4 channels, payload = token (unpadded here to keep the vector short).
  const req = [0, 0x40, 0, 0, 0, 0x10, 0, 0, 4, 1, 3, 2, 4, 0, 16, ...TOKEN];
  add("connect-request", "client's first datagram: handle in clear, request body sealed", client, undefined, coreDatagram(1, 0x00aa0001, req), 0);
  // DATA: seq 1, ack 0 (no ack flag), bits 0, delay 0, MESSAGE frame on channel 0 seq 0 "hello".
  const hello = [...new TextEncoder().encode("hello")];
  add("data-client", "client DATA with one reliable message", client, undefined, coreDatagram(5, 0x5eed0000, [0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, hello.length, ...hello]), 0);
  add("accept-server", "server CONNECT_ACCEPT", server, peer, coreDatagram(3, 0x00aa0001, [0x5e, 0xed, 0, 0, 0, 0x40, 0, 0, 0, 0x10, 0, 0, 0, 0]), 1);
  add("data-server", "server DATA with a PING", server, peer, coreDatagram(5, 0x00aa0001, [0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1]), 1);
  // Key phase 1: force the client's send key forward once.
  client.session.send.confirmed = true;
  client.session.send.packetsUnderKey = Number.MAX_SAFE_INTEGER;
  add("data-client-phase1", "client DATA after one key update (key phase bit 0x80 set)", client, undefined, coreDatagram(5, 0x5eed0000, [0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 1]), 0);
  const c2sKey0 = packetKey(clientToServer);
  return {
    description: "Sealed fastnet datagrams (PROTOCOL.md section 18). Secrets: HKDF-Expand-Label(exporter, 'c2s'|'s2c', '', 32) with label prefix 'fastnet '; packet key = HKDF-Expand-Label(secret, 'key', '', 32); next secret = HKDF-Expand-Label(secret, 'ku', '', 32). Nonce = u32 direction || u64 pn. AD = every byte before the ciphertext.",
    exporter: hex(EXPORTER),
    keys: {
      clientToServerSecret: hex(clientToServer),
      serverToClientSecret: hex(serverToClient),
      clientToServerKey: hex(c2sKey0),
      serverToClientKey: hex(packetKey(serverToClient)),
      clientToServerKeyPhase1: hex(packetKey(nextSecret(clientToServer))),
    },
    handle: HANDLE,
    token: hex(TOKEN),
    vectors,
  };
}

if (import.meta.main) {
  const out = process.argv[2] ?? new URL(".", import.meta.url).pathname;
  await Bun.write(`${out.replace(/\/$/, "")}/sealed.json`, `${JSON.stringify(generate(), null, 2)}\n`);
  console.log(`wrote ${out}/sealed.json`);
}
