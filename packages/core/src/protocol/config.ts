/**
 * Endpoint configuration: defaults, units, and validation once at
 * construction (ARCHITECTURE.md §6: bad configuration throws with a code and
 * names the option).
 */
import { configError, ErrorCode, FastnetError } from "./errors.ts";
import type { Plugin } from "./plugin.ts";
import type { ChannelConfig, ChannelKind, RandomSource } from "./types.ts";
import { MAX_DATAGRAM } from "./wire.ts";

export interface EndpointConfig {
  /** Randomness for connection ids. Required: the engine never calls Math.random. */
  random: RandomSource;
  /**
   * Runs without encryption or authentication. Only for tests and trusted LANs; a real deployment
   * registers a plugin that fills the secure-handshake slot (the `fastnet` package does).
   */
  insecurePlaintext?: boolean;
  /** Accept incoming connections (servers). Default false. */
  acceptConnections?: boolean;
  /** Max concurrent peers (both directions). Default 4096, at most 65535. */
  maxPeers?: number;
  /** Max accepted-but-unconfirmed handshakes; beyond it requests are dropped. Default 256. */
  maxPendingHandshakes?: number;
  /** Max datagram size sent, bytes, including plugin overhead. Default 1200. */
  mtu?: number;
  /** Channels, indexed from 0. Both sides must agree. Default: see DEFAULT_CHANNELS. */
  channels?: ChannelConfig[];
  /** Largest message, bytes. Default 1 MiB. */
  maxMessageSize?: number;
  /** Per-peer memory for reassembly and reordering, bytes; advertised to the peer as its flow-control window. Default 4 MiB. */
  receiveWindowBytes?: number;
  /** Incomplete unreliable/sequenced fragmented messages are dropped after this, ms. Default 2000. */
  fragmentTimeoutMs?: number;
  /** Send a keepalive after this much silence, ms. Default 1000. */
  keepaliveIntervalMs?: number;
  /** Disconnect a peer silent for this long, ms. Default 10000. */
  idleTimeoutMs?: number;
  /** Give up connecting after this, ms. Default 5000. */
  handshakeTimeoutMs?: number;
  /** Resend the connect request this often, ms. Default 250. */
  handshakeRetryMs?: number;
  /** Longest an ack may wait for data to ride on, ms. Default 1. */
  maxAckDelayMs?: number;
  /** RTT assumed before the first sample, ms. Default 100. */
  initialRttMs?: number;
  /** Retransmission timeout floor, ms. Default 20. */
  minRtoMs?: number;
  /** Retransmission timeout ceiling, ms. Default 2000. */
  maxRtoMs?: number;
  /** Unreliable messages still unsent after this are dropped, ms. Default 250. */
  unreliableTtlMs?: number;
  /** A graceful disconnect waits at most this long for reliable data to be acked, ms. Default 1000. */
  disconnectLingerMs?: number;
  /** Per peer: bytes queued but not yet sent beyond which send() throws FASTNET_WINDOW_FULL. Default 64 MiB. */
  maxQueuedBytes?: number;
  plugins?: Plugin[];
}

export const DEFAULT_CHANNELS: readonly ChannelConfig[] = [
  { kind: "reliable-ordered", name: "reliable" },
  { kind: "unreliable", name: "unreliable" },
  { kind: "reliable-unordered", name: "reliable-unordered" },
  { kind: "sequenced", name: "sequenced" },
];

export interface ResolvedConfig {
  random: RandomSource;
  insecurePlaintext: boolean;
  acceptConnections: boolean;
  maxPeers: number;
  maxPendingHandshakes: number;
  mtu: number;
  channels: ChannelConfig[];
  maxMessageSize: number;
  receiveWindowBytes: number;
  fragmentTimeoutMs: number;
  keepaliveIntervalMs: number;
  idleTimeoutMs: number;
  handshakeTimeoutMs: number;
  handshakeRetryMs: number;
  maxAckDelayMs: number;
  initialRttMs: number;
  minRtoMs: number;
  maxRtoMs: number;
  unreliableTtlMs: number;
  disconnectLingerMs: number;
  maxQueuedBytes: number;
  plugins: Plugin[];
}

const KINDS: readonly ChannelKind[] = ["reliable-ordered", "reliable-unordered", "unreliable", "sequenced"];

function num(cfg: Record<string, unknown>, key: string, def: number, min: number, max: number, integer = true): number {
  const v = cfg[key];
  if (v === undefined) return def;
  if (typeof v !== "number" || !Number.isFinite(v) || v < min || v > max || (integer && !Number.isInteger(v))) {
    throw configError(key, `${integer ? "an integer" : "a number"} in [${min}, ${max}]`, v);
  }
  return v;
}

export function resolveConfig(input: EndpointConfig): ResolvedConfig {
  if (input === null || typeof input !== "object") throw configError("config", "an object", input);
  const cfg = input as unknown as Record<string, unknown>;
  const random = input.random;
  if (!random || typeof random.fill !== "function") {
    throw configError("random", "a RandomSource with fill(Uint8Array)", random);
  }
  for (const key of ["insecurePlaintext", "acceptConnections"]) {
    if (cfg[key] !== undefined && typeof cfg[key] !== "boolean") throw configError(key, "a boolean", cfg[key]);
  }
  const channels = input.channels ?? DEFAULT_CHANNELS.map((c) => ({ ...c }));
  if (!Array.isArray(channels) || channels.length < 1 || channels.length > 255) {
    throw configError("channels", "an array of 1 to 255 channel configs", channels);
  }
  channels.forEach((c, i) => {
    if (!c || !KINDS.includes(c.kind)) throw configError(`channels[${i}].kind`, `one of ${KINDS.join(", ")}`, c?.kind);
  });
  const mtu = num(cfg, "mtu", 1200, 256, MAX_DATAGRAM);
  const maxMessageSize = num(cfg, "maxMessageSize", 1 << 20, 1, 64 << 20);
  const receiveWindowBytes = num(cfg, "receiveWindowBytes", Math.max(4 << 20, maxMessageSize), 1024, 1 << 30);
  if (receiveWindowBytes < maxMessageSize) {
    throw configError("receiveWindowBytes", `>= maxMessageSize (${maxMessageSize})`, receiveWindowBytes);
  }
  const minRtoMs = num(cfg, "minRtoMs", 20, 1, 60_000, false);
  const maxRtoMs = num(cfg, "maxRtoMs", 2000, 1, 600_000, false);
  if (maxRtoMs < minRtoMs) throw configError("maxRtoMs", `>= minRtoMs (${minRtoMs})`, maxRtoMs);
  const plugins = input.plugins ?? [];
  if (!Array.isArray(plugins)) throw configError("plugins", "an array", plugins);
  const resolved: ResolvedConfig = {
    random,
    insecurePlaintext: input.insecurePlaintext ?? false,
    acceptConnections: input.acceptConnections ?? false,
    maxPeers: num(cfg, "maxPeers", 4096, 1, 0xffff),
    maxPendingHandshakes: num(cfg, "maxPendingHandshakes", 256, 1, 0xffff),
    mtu,
    channels: channels.map((c) => ({ ...c })),
    maxMessageSize,
    receiveWindowBytes,
    fragmentTimeoutMs: num(cfg, "fragmentTimeoutMs", 2000, 1, 600_000, false),
    keepaliveIntervalMs: num(cfg, "keepaliveIntervalMs", 1000, 1, 600_000, false),
    idleTimeoutMs: num(cfg, "idleTimeoutMs", 10_000, 1, 3_600_000, false),
    handshakeTimeoutMs: num(cfg, "handshakeTimeoutMs", 5000, 1, 600_000, false),
    handshakeRetryMs: num(cfg, "handshakeRetryMs", 250, 1, 600_000, false),
    maxAckDelayMs: num(cfg, "maxAckDelayMs", 1, 0, 600, false),
    initialRttMs: num(cfg, "initialRttMs", 100, 0.001, 60_000, false),
    minRtoMs,
    maxRtoMs,
    unreliableTtlMs: num(cfg, "unreliableTtlMs", 250, 0, 600_000, false),
    disconnectLingerMs: num(cfg, "disconnectLingerMs", 1000, 0, 600_000, false),
    maxQueuedBytes: num(cfg, "maxQueuedBytes", 64 << 20, 1, 1 << 30),
    plugins,
  };
  if (resolved.keepaliveIntervalMs >= resolved.idleTimeoutMs) {
    throw configError("keepaliveIntervalMs", `< idleTimeoutMs (${resolved.idleTimeoutMs})`, resolved.keepaliveIntervalMs);
  }
  return resolved;
}

export function assertSecurity(cfg: ResolvedConfig, secure: boolean): void {
  if (!secure && !cfg.insecurePlaintext) {
    throw new FastnetError(
      ErrorCode.INSECURE_NOT_ALLOWED,
      "no plugin secures this endpoint: register a secure handshake plugin (the 'fastnet' package does), " +
        "or set 'insecurePlaintext: true' for tests and trusted LANs",
    );
  }
}
