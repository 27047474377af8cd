/**
 * fastnet wire format v1: every offset, size, type byte and limit in one place.
 * The byte-level specification with tables is packages/core/PROTOCOL.md; keep
 * the two in step. All integers are big-endian (network order).
 */

export const PROTOCOL_VERSION = 1;
/** Byte 0 of every datagram: magic nibble 0xF, version nibble. */
export const VERSION_BYTE = 0xf0 | PROTOCOL_VERSION;

export const PacketType = {
  CONNECT_REQUEST: 1,
  CONNECT_CHALLENGE: 2,
  CONNECT_ACCEPT: 3,
  CONNECT_DENY: 4,
  DATA: 5,
  DISCONNECT: 6,
} as const;
export type PacketType = (typeof PacketType)[keyof typeof PacketType];

/** Byte 1: high nibble flags, low nibble type. */
export const TYPE_MASK = 0x0f;
/** DATA: the ack fields are valid. */
export const FLAG_HAS_ACK = 0x10;
/** Reserved for datagram-layer plugins (e.g. the crypto key phase); core ignores them. */
export const FLAG_PLUGIN_MASK = 0xe0;

/** Fixed header: version(1) type/flags(1) connection id(4). Cleartext; AEAD associated data. */
export const HEADER_SIZE = 6;
export const OFF_VERSION = 0;
export const OFF_TYPE = 1;
export const OFF_CONNECTION_ID = 2;

/** DATA header after the fixed header: seq(2) ack(2) ackBits(4) ackDelay(2). */
export const DATA_HEADER_SIZE = HEADER_SIZE + 10;
export const OFF_SEQ = 6;
export const OFF_ACK = 8;
export const OFF_ACK_BITS = 10;
export const OFF_ACK_DELAY = 14;
/** ackDelay unit on the wire, ms (10 µs); u16 so at most ~655 ms. */
export const ACK_DELAY_UNIT_MS = 0.01;
export const ACK_BITS = 32;

export const FrameType = {
  /** Rest of the datagram is padding. */
  PADDING: 0x00,
  /** Ack-eliciting, no body (keepalive, RTT probe). */
  PING: 0x01,
  /** channel(1) seq(2) len(varint) bytes. */
  MESSAGE: 0x02,
  /** channel(1) seq(2) index(2) count(2) len(varint) bytes. */
  FRAGMENT: 0x03,
  /** channel(1) seq(2): reliable message abandoned after its expiry; never delivered. */
  TOMBSTONE: 0x04,
} as const;

export const MESSAGE_FRAME_OVERHEAD = 1 + 1 + 2; // + varint
export const FRAGMENT_FRAME_OVERHEAD = 1 + 1 + 2 + 2 + 2; // + varint
export const TOMBSTONE_FRAME_SIZE = 4;
export const MAX_VARINT_BYTES = 3;
export const MAX_FRAGMENTS = 0xffff;

/** CONNECT_REQUEST body: recvWindow(4) maxMessage(4) channelCount(1) kinds(n) payloadLen(2) payload; padded. */
export const REQUEST_FIXED = HEADER_SIZE + 4 + 4 + 1 + 2;
/** Requests are padded to this size so the server's reply fits the 3x anti-amplification budget. */
export const REQUEST_PADDED_SIZE = 1200;
/** Smaller requests are dropped unread: a reply to them could amplify. */
export const REQUEST_MIN_SIZE = 64;
/** CONNECT_ACCEPT body: serverId(4) recvWindow(4) maxMessage(4) payloadLen(2) payload. */
export const ACCEPT_FIXED = HEADER_SIZE + 4 + 4 + 4 + 2;
/** CONNECT_CHALLENGE body: len(2) bytes. */
export const CHALLENGE_FIXED = HEADER_SIZE + 2;
/** CONNECT_DENY body: reason(1) len(2) detail (UTF-8). */
export const DENY_FIXED = HEADER_SIZE + 1 + 2;
/** DISCONNECT body: reason(1). */
export const DISCONNECT_SIZE = HEADER_SIZE + 1;
/** Largest UDP payload over IPv4. */
export const MAX_DATAGRAM = 65507;
export const AMPLIFICATION_FACTOR = 3;

export const ChannelKindCode = {
  "reliable-ordered": 1,
  "reliable-unordered": 2,
  unreliable: 3,
  sequenced: 4,
} as const;

export const DisconnectCode = {
  "closed-by-peer": 1,
  "timeout": 2,
  "denied": 3,
  "protocol-violation": 4,
} as const;

export const DenyCode = {
  REJECTED: 1,
  SERVER_FULL: 2,
  CHANNEL_MISMATCH: 3,
} as const;

// ---- primitive codecs (no allocation; callers check bounds) ----

export function writeU16(buf: Uint8Array, off: number, v: number): void {
  buf[off] = (v >>> 8) & 0xff;
  buf[off + 1] = v & 0xff;
}

export function writeU32(buf: Uint8Array, off: number, v: number): void {
  buf[off] = (v >>> 24) & 0xff;
  buf[off + 1] = (v >>> 16) & 0xff;
  buf[off + 2] = (v >>> 8) & 0xff;
  buf[off + 3] = v & 0xff;
}

export function readU16(buf: Uint8Array, off: number): number {
  return (buf[off]! << 8) | buf[off + 1]!;
}

export function readU32(buf: Uint8Array, off: number): number {
  return ((buf[off]! << 24) | (buf[off + 1]! << 16) | (buf[off + 2]! << 8) | buf[off + 3]!) >>> 0;
}

export function varintSize(v: number): number {
  return v < 0x80 ? 1 : v < 0x4000 ? 2 : 3;
}

/** LEB128, at most 3 bytes (values < 2^21). Returns the new offset. */
export function writeVarint(buf: Uint8Array, off: number, v: number): number {
  while (v >= 0x80) {
    buf[off++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  buf[off++] = v;
  return off;
}

/** Reads a varint at `off` bounded by `end`; returns the value and sets `cursor.off`, or -1 if malformed. */
export function readVarint(buf: Uint8Array, cursor: { off: number }, end: number): number {
  let v = 0;
  let shift = 0;
  for (let i = 0; i < MAX_VARINT_BYTES; i++) {
    if (cursor.off >= end) return -1;
    const b = buf[cursor.off++]!;
    v |= (b & 0x7f) << shift;
    if ((b & 0x80) === 0) return v;
    shift += 7;
  }
  return -1;
}

export function writeHeader(buf: Uint8Array, type: number, flags: number, connectionId: number): void {
  buf[OFF_VERSION] = VERSION_BYTE;
  buf[OFF_TYPE] = (flags & 0xf0) | type;
  writeU32(buf, OFF_CONNECTION_ID, connectionId);
}

export function packetTypeOf(buf: Uint8Array): number {
  return buf[OFF_TYPE]! & TYPE_MASK;
}

export function connectionIdOf(buf: Uint8Array): number {
  return readU32(buf, OFF_CONNECTION_ID);
}
