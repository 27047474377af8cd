/**
 * Session key schedule and key phases (RFC 9001 §6 model): packets under the
 * next key promote it, reordered packets under the previous key open until
 * its TTL, older ones are dropped as old-key, forged phase flips fail
 * authentication without changing state, and a sender does not update twice
 * before the peer confirmed the first update.
 */
import { describe, expect, test } from "bun:test";
import { nobleAead, sodiumAead, type Aead } from "./aead.ts";
import { deriveDirectionSecrets } from "./keys.ts";
import { DEFAULT_KEY_UPDATE, Session } from "./session.ts";
import { sodiumFfiAead } from "./sodium-ffi.ts";

const AD_END = 14;

function pair(): { client: Session; server: Session } {
  const exporter = new Uint8Array(64).map((_, i) => (i * 13 + 5) & 0xff);
  const { clientToServer, serverToClient } = deriveDirectionSecrets(exporter);
  const token = new Uint8Array(16);
  return {
    client: new Session(1, token, true, clientToServer, serverToClient, 0, 1e9),
    server: new Session(1, token, false, clientToServer, serverToClient, 0, 1e9),
  };
}

/** Seals `body` as the client would under its current key; returns the datagram (header 14 bytes + ct + tag). */
function seal(aead: Aead, s: Session, pn: number, body: number[]): { bytes: Uint8Array; phase: number } {
  const buf = new Uint8Array(AD_END + body.length + 16);
  buf[0] = 0xf1;
  buf[1] = 5 | (s.send.phase ? 0x80 : 0);
  buf.set(body, AD_END);
  const end = s.seal(aead, buf, AD_END, body.length, pn);
  return { bytes: buf.subarray(0, end), phase: s.send.phase };
}

function open(aead: Aead, s: Session, d: { bytes: Uint8Array; phase: number }, pn: number, now: number, ttl = 1000): number | string {
  const before = d.bytes.slice();
  const r = s.open(aead, d.bytes, AD_END, d.bytes.length, new Uint8Array(d.bytes.length), 0, d.phase, pn, now, ttl);
  // The datagram itself is never written, opened or not: a retry under another key sees the same bytes.
  expect(d.bytes).toEqual(before);
  return r;
}

/** Forces a send key update now. */
function update(s: Session, now: number): void {
  s.send.confirmed = true;
  s.send.maybeUpdate(now, { ...DEFAULT_KEY_UPDATE, packets: 0 });
}

const impls = [nobleAead(), sodiumAead(), sodiumFfiAead()].filter((a) => a !== undefined).map((a) => [a.name, a]) as [string, Aead][];

describe.each(impls)("session key phases (%s)", (_name, aead) => {
  test("packets under the next key promote it; reordered packets under the previous key open until its TTL", () => {
    const { client, server } = pair();
    const old = [0, 1, 2, 3].map((pn) => seal(aead, client, pn, [pn]));
    expect(open(aead, server, old[0]!, 0, 0)).toBe(1);
    update(client, 0);
    expect(client.send.phase).toBe(1);
    const fresh = seal(aead, client, 4, [4]);
    expect(open(aead, server, fresh, 4, 10)).toBe(1);
    expect(server.recv.phase).toBe(1);
    expect(server.recv.updates).toBe(1);
    // pn 1 and 2 are older than the first packet of the new phase: previous key, within TTL.
    expect(open(aead, server, old[1]!, 1, 500)).toBe(1);
    // After the TTL the previous key is gone: old-key, not an auth failure and no state change.
    expect(open(aead, server, old[2]!, 2, 2000)).toBe("old-key");
    expect(server.recv.phase).toBe(1);
    expect(open(aead, server, seal(aead, client, 5, [5]), 5, 2001)).toBe(1);
  });

  test("a forged phase flip fails authentication and changes nothing", () => {
    const { client, server } = pair();
    const d = seal(aead, client, 0, [1, 2, 3]);
    const forged = { bytes: d.bytes.slice(), phase: 1 };
    expect(open(aead, server, forged, 0, 0)).toBe("auth");
    expect(server.recv.phase).toBe(0);
    expect(server.recv.updates).toBe(0);
    // The real packet still opens afterwards (its packet number was not recorded).
    expect(open(aead, server, d, 0, 0)).toBe(3);
  });

  test("a packet two key updates ahead (an unknown phase) is rejected, not mistaken for the next key", () => {
    const { client, server } = pair();
    update(client, 0);
    update(client, 0);
    expect(client.send.updates).toBe(2);
    const twoAhead = seal(aead, client, 0, [9]);
    expect(twoAhead.phase).toBe(0);
    expect(open(aead, server, twoAhead, 0, 0)).toBe("auth");
    expect(server.recv.updates).toBe(0);
  });

  test("a sender does not update again until the peer acknowledged a packet under the new key", () => {
    const { client } = pair();
    const policy = { ...DEFAULT_KEY_UPDATE, packets: 1 };
    client.send.packetsUnderKey = 5;
    client.send.maybeUpdate(0, policy);
    expect(client.send.updates).toBe(1);
    client.send.packetsUnderKey = 5;
    client.send.maybeUpdate(1, policy);
    expect(client.send.updates).toBe(1);
    client.send.confirmed = true;
    client.send.maybeUpdate(2, policy);
    expect(client.send.updates).toBe(2);
  });

  test("replays are rejected across key phases; packet numbers never repeat", () => {
    const { client, server } = pair();
    const d0 = seal(aead, client, 0, [1]);
    expect(open(aead, server, d0, 0, 0)).toBe(1);
    update(client, 0);
    const d1 = seal(aead, client, 1, [2]);
    expect(open(aead, server, d1, 1, 0)).toBe(1);
    expect(open(aead, server, d0, 0, 0)).toBe("replay");
    expect(open(aead, server, d1, 1, 0)).toBe("replay");
  });

  test("directions use different keys: a client datagram reflected back to the client does not open", () => {
    const { client } = pair();
    const d = seal(aead, client, 0, [1, 2]);
    expect(open(aead, client, d, 0, 0)).toBe("auth");
  });
});
