/**
 * The crypto plugin's per-datagram hot path as core calls it: sealDatagram
 * on a core DATA datagram in the endpoint's buffer, then openDatagram on the
 * result. ns per seal+open pair and heap bytes allocated per pair (measured
 * with a forced GC around 200k operations), for 64 and 1200 B datagrams and
 * both AEAD implementations. Allocation rate is not printed: neither
 * heapStats().objectCount nor memoryUsage() resolves a few small views per
 * operation on this runtime (a no-allocation control loop read 26-354 B/op).
 *
 * Run: `bun packages/crypto/bench/plugin.ts`
 */
import { heapStats } from "bun:jsc";
import { wire } from "@fastnet/core/protocol";
import { nobleAead, sodiumAead, type Aead } from "../src/aead.ts";
import { sodiumFfiAead } from "../src/sodium-ffi.ts";
import { deriveDirectionSecrets } from "../src/keys.ts";
import { CryptoClientPlugin, CryptoServerPlugin } from "../src/plugin.ts";
import { Session } from "../src/session.ts";

function setup(aead: Aead): { seal: (buf: Uint8Array, len: number) => number; open: (d: Uint8Array) => Uint8Array | null } {
  const { clientToServer, serverToClient } = deriveDirectionSecrets(new Uint8Array(64).fill(3));
  const token = new Uint8Array(16);
  const client = new CryptoClientPlugin(new Session(1, token, true, clientToServer, serverToClient, 0, 1e12), { aead, keyUpdate: { packets: 1e12 } });
  const server = new CryptoServerPlugin({ aead, keyUpdate: { packets: 1e12 } });
  server.init({ slot: 0 } as never);
  const peer = { slots: [new Session(1, token, false, clientToServer, serverToClient, 0, 1e12)] } as never;
  const ctx = { now: 0 } as never;
  const from = { host: "127.0.0.1", port: 1 };
  return {
    seal: (buf, len) => client.sealDatagram(buf, len, undefined, ctx),
    open: (d) => server.openDatagram(d, peer, from, ctx),
  };
}

function usedBytes(): number {
  Bun.gc(true);
  return heapStats().heapSize;
}

const N = 200_000;
console.log(`crypto plugin seal+open per datagram, ${N} pairs, Bun ${Bun.version}`);
console.log("aead        size   ns/pair   retained bytes/pair");
for (const [name, aead] of [["sodium-ffi", sodiumFfiAead()], ["sodium", sodiumAead()], ["noble", nobleAead()]] as const) {
  if (aead === undefined) continue;
  for (const size of [64, 1200]) {
    const { seal, open } = setup(aead);
    const buf = new Uint8Array(1300);
    const body = size - wire.HEADER_SIZE;
    const run = (n: number): void => {
      for (let i = 0; i < n; i++) {
        wire.writeHeader(buf, wire.PacketType.DATA, 0, 7);
        const sealed = seal(buf, wire.HEADER_SIZE + body);
        if (open(buf.subarray(0, sealed)) === null) throw new Error("open failed");
      }
    };
    const n = name === "noble" ? N / 10 : N;
    run(n / 10);
    const before = usedBytes();
    const t0 = Bun.nanoseconds();
    run(n);
    const ns = (Bun.nanoseconds() - t0) / n;
    const after = usedBytes();
    console.log(`${name.padEnd(10)}  ${String(size).padStart(4)}  ${ns.toFixed(0).padStart(8)}  ${Math.max(0, (after - before) / n).toFixed(1).padStart(20)}`);
  }
}
