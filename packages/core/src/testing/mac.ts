/**
 * A stand-in for a secure datagram plugin in tests and benches: fills the
 * secure-handshake slot and appends a keyed 32-bit FNV-1a tag (4 bytes of
 * overhead) to every datagram, dropping any that does not verify. Not
 * cryptography: enough to drop random, mutated and forged test datagrams.
 * Free of bun:test, so benches can import it (`@fastnet/core/testing/mac`).
 */
import type { Plugin } from "../protocol/plugin.ts";
import { HEADER_SIZE } from "../protocol/wire.ts";

export function macPlugin(key: number): Plugin {
  const tag = (d: Uint8Array, n: number): number => {
    let h = (0x811c9dc5 ^ key) >>> 0;
    for (let i = 0; i < n; i++) h = Math.imul(h ^ d[i]!, 0x01000193) >>> 0;
    return h;
  };
  return {
    name: "mac",
    secureHandshake: true,
    datagramOverhead: 4,
    sealDatagram(buf, length) {
      const h = tag(buf, length);
      buf[length] = h >>> 24;
      buf[length + 1] = (h >>> 16) & 0xff;
      buf[length + 2] = (h >>> 8) & 0xff;
      buf[length + 3] = h & 0xff;
      return length + 4;
    },
    openDatagram(data) {
      const n = data.length - 4;
      if (n < HEADER_SIZE) return null;
      const got = ((data[n]! << 24) | (data[n + 1]! << 16) | (data[n + 2]! << 8) | data[n + 3]!) >>> 0;
      return got === tag(data, n) ? data.subarray(0, n) : null;
    },
  };
}
