/**
 * Simulator trace records and their hash: a compact log of every datagram's
 * fate, hashed so tests can assert "same seed, same trace".
 */

/**
 * What happened to a datagram:
 * - `delivered`: handed to the destination endpoint (t = arrival time);
 * - `duplicated`: the extra copy made by duplication, handed to the destination (t = arrival time);
 * - `lost`: dropped by random or burst loss (t = send time);
 * - `mtu`: dropped for exceeding the link MTU (t = send time);
 * - `queue`: dropped because the bandwidth queue was full (t = send time);
 * - `no-route`: arrived at an address with no node (t = arrival time).
 */
export type TraceFate = "delivered" | "lost" | "duplicated" | "mtu" | "queue" | "no-route";

export interface TraceRecord {
  /** Virtual time, ms. */
  t: number;
  /** Source address as "host:port" ("[v6]:port" for IPv6). */
  from: string;
  to: string;
  /** Datagram size, bytes. */
  size: number;
  fate: TraceFate;
}

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/**
 * FNV-1a (32-bit) over the canonical form "t,from,to,size,fate\n" of each record,
 * as 8 lowercase hex digits. Times use JavaScript's shortest round-trip number
 * formatting, which is deterministic.
 */
export function hashTrace(trace: readonly TraceRecord[]): string {
  let h = FNV_OFFSET;
  for (const r of trace) {
    h = fnvString(h, `${r.t},${r.from},${r.to},${r.size},${r.fate}\n`);
  }
  return h.toString(16).padStart(8, "0");
}

function fnvString(h: number, s: string): number {
  for (let i = 0; i < s.length; i++) {
    // Code units, not UTF-8 bytes: addresses and fates are ASCII, so both agree.
    h ^= s.charCodeAt(i);
    h = Math.imul(h, FNV_PRIME) >>> 0;
  }
  return h;
}
