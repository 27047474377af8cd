/**
 * @fastnet/delta: snapshot delta compression for fastnet. Register the same
 * `delta()` on both endpoints; the sender calls `sendSnapshot(peer, tick,
 * bytes)`, the receiver gets byte-exact snapshots from `pollSnapshot()`.
 */
export { DeltaPlugin, delta, type DeltaOptions, type DeltaStats, type SnapshotEvent } from "./plugin.ts";
export {
  DecodeStatus, WordBuffer, decodeRuns, decodeSnapshotBody, emptyHeader, encodeDelta, encodeFull, encodeRuns, hashSnapshot,
  parseSnapshotHeader, type SnapshotHeader,
} from "./codec.ts";
export { SnapshotReader, SnapshotWriter } from "./buffer.ts";
export { dequantizeAngle, dequantizeRange, dequantizeStep, quantizeAngle, quantizeRange, quantizeStep, toFloat32 } from "./quantize.ts";
export { readVarint, unzigzag, varintSize, writeVarint, zigzag, type Cursor } from "./varint.ts";
export * as wire from "./wire.ts";
export type { DeltaDropReason } from "./wire.ts";
