/**
 * Shared types of the sans-IO engine: addresses, transmits, events, reasons,
 * statistics. No I/O, no clock, no randomness here (ARCHITECTURE.md §3).
 */

/** A UDP address. `host` is a literal IPv4 or IPv6 address (no hostnames). */
export interface Address {
  readonly host: string;
  readonly port: number;
}

/** One datagram to send; its bytes are in the buffer handed to `pollTransmit`, `[0, size)`. */
export interface Transmit {
  to: Address;
  size: number;
}

/** Injected randomness: fills `out` with random bytes. Tests pass a seeded source. */
export interface RandomSource {
  fill(out: Uint8Array): void;
}

export type ChannelKind = "reliable-ordered" | "reliable-unordered" | "unreliable" | "sequenced";

export interface ChannelConfig {
  kind: ChannelKind;
  /** Optional label, shown in stats and traces. */
  name?: string;
}

export type PeerState = "connecting" | "connected" | "disconnecting" | "disconnected";

export type DisconnectReason =
  /** Nothing was heard from the peer for idleTimeoutMs. */
  | "timeout"
  /** The peer sent a disconnect. */
  | "closed-by-peer"
  /** This side called disconnect() or close(). */
  | "closed-locally"
  /** The server refused the connection (a plugin rejected it, or it is full). */
  | "denied"
  /** The handshake did not finish within handshakeTimeoutMs. */
  | "handshake-timeout"
  /** The peer broke the protocol (e.g. acked a packet never sent). */
  | "protocol-violation";

/** Why an incoming datagram or part of it was dropped. Each is counted. */
export type DropReason =
  | "short"
  | "oversize"
  | "bad-version"
  | "bad-type"
  | "unknown-connection"
  | "address-mismatch"
  | "malformed"
  | "duplicate"
  | "stale"
  | "bad-channel"
  | "bad-fragment"
  | "reassembly-cap"
  | "message-too-large"
  | "out-of-window"
  | "plugin"
  | "not-accepting"
  | "handshake-limit"
  | "amplification-limit"
  | "wrong-state";

export const DROP_REASONS: readonly DropReason[] = [
  "short", "oversize", "bad-version", "bad-type", "unknown-connection", "address-mismatch",
  "malformed", "duplicate", "stale", "bad-channel", "bad-fragment", "reassembly-cap",
  "message-too-large", "out-of-window", "plugin", "not-accepting", "handshake-limit",
  "amplification-limit", "wrong-state",
];

/** Why an outgoing message was discarded before delivery. */
export type SendDropReason = "expired" | "superseded";

export interface PeerStats {
  /** Smoothed RTT (RFC 6298 SRTT), ms. */
  rttMs: number;
  /** RTT variation (RFC 6298 RTTVAR), ms. */
  rttVarMs: number;
  /** Minimum RTT seen, ms. */
  minRttMs: number;
  /** Latest RTT sample, ms. */
  latestRttMs: number;
  /** Current retransmission timeout, ms. */
  rtoMs: number;
  packetsSent: number;
  packetsReceived: number;
  bytesSent: number;
  bytesReceived: number;
  /** Ack-eliciting packets declared lost. */
  packetsLost: number;
  /** Ack-eliciting packets acknowledged. */
  packetsAcked: number;
  /** Lost / (lost + acked) over the peer's life, 0..1. */
  lossRate: number;
  /** Reliable message parts sent again. */
  retransmits: number;
  /** Packets declared lost that were acked later (reordering); each widens the loss thresholds. */
  spuriousLosses: number;
  messagesSent: number;
  messagesReceived: number;
  /** Outgoing messages discarded before delivery (expired or superseded). */
  messagesDropped: number;
  /** Congestion window, bytes. */
  congestionWindow: number;
  bytesInFlight: number;
  /** Bytes that can be sent now without exceeding the congestion window. */
  sendBudget: number;
  /** Bytes held in reassembly and reorder buffers. */
  reassemblyBytes: number;
  /** Bytes queued, not yet sent. */
  queuedBytes: number;
}

/** Events pulled with `pollEvent()`. */
export type EndpointEvent<P = unknown> =
  | { type: "connected"; peer: P }
  | { type: "message"; peer: P; channel: number; data: Uint8Array }
  | { type: "disconnected"; peer: P; reason: DisconnectReason; detail?: string };

export interface SendOptions {
  /** Reliable: stop resending after this many ms and never deliver. Unreliable: drop if not sent by then. */
  expiresInMs?: number;
}
