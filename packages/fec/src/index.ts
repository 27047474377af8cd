/**
 * @fastnet/fec: forward error correction for fastnet. XOR parity over groups
 * of datagrams, sized from the loss the peer measures, or Reed-Solomon
 * (k data + m parity) for bursty links. A datagram-layer plugin: register it
 * after message-layer plugins and before crypto.
 */
export { fec, type FecPlugin, type FecStats, type FecPeerInfo } from "./fec.ts";
export type { FecMode, FecOptions, ResolvedFecOptions } from "./options.ts";
export { FEC_OVERHEAD, MAX_DATA, MAX_PARITY } from "./wire.ts";
export * as gf256 from "./gf256.ts";
