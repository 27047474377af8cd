/**
 * Errors for API misuse and bad configuration (ARCHITECTURE.md §6, kind 3).
 * Untrusted input never throws: it is dropped and counted (see DropReason).
 */

export const ErrorCode = {
  /** A configuration option is out of range or of the wrong type. */
  INVALID_CONFIG: "FASTNET_INVALID_CONFIG",
  /** An argument to an API call is invalid (wrong type, out of range). */
  INVALID_ARGUMENT: "FASTNET_INVALID_ARGUMENT",
  /** The channel index does not exist on this endpoint. */
  UNKNOWN_CHANNEL: "FASTNET_UNKNOWN_CHANNEL",
  /** The message is larger than maxMessageSize. */
  MESSAGE_TOO_LARGE: "FASTNET_MESSAGE_TOO_LARGE",
  /** The peer is not connected (or no longer). */
  NOT_CONNECTED: "FASTNET_NOT_CONNECTED",
  /** The peer's send queue already holds maxQueuedBytes: the application sends faster than the link drains. */
  WINDOW_FULL: "FASTNET_WINDOW_FULL",
  /** A one-of-a-kind plugin slot (scheduler, congestion, handshake) was filled twice. */
  SLOT_TAKEN: "FASTNET_SLOT_TAKEN",
  /** A plugin is malformed (no name, duplicate name, wrong hook type). */
  INVALID_PLUGIN: "FASTNET_INVALID_PLUGIN",
  /** The endpoint is closed. */
  CLOSED: "FASTNET_CLOSED",
  /** Neither a secure handshake plugin nor the explicit insecure mode was configured. */
  INSECURE_NOT_ALLOWED: "FASTNET_INSECURE_NOT_ALLOWED",
  /** Too many peers (maxPeers) for a new outgoing connection. */
  TOO_MANY_PEERS: "FASTNET_TOO_MANY_PEERS",
  /** A socket-level operation failed (bind, address in use). */
  SOCKET: "FASTNET_SOCKET",
  /** Connecting failed (timeout, denied). */
  CONNECT_FAILED: "FASTNET_CONNECT_FAILED",
  /** The TLS handshake failed or the server's control message was invalid. */
  HANDSHAKE_FAILED: "FASTNET_HANDSHAKE_FAILED",
  /** The server's certificate failed verification (CA chain or pinned fingerprint). */
  CERTIFICATE_REJECTED: "FASTNET_CERTIFICATE_REJECTED",
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export class FastnetError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "FastnetError";
    this.code = code;
  }
}

export function configError(option: string, expected: string, got: unknown): FastnetError {
  return new FastnetError(
    ErrorCode.INVALID_CONFIG,
    `option '${option}' must be ${expected}, got ${describe(got)}`,
  );
}

export function argError(arg: string, expected: string, got: unknown): FastnetError {
  return new FastnetError(ErrorCode.INVALID_ARGUMENT, `argument '${arg}' must be ${expected}, got ${describe(got)}`);
}

function describe(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v);
  if (typeof v === "number" || typeof v === "boolean" || v === null || v === undefined) return String(v);
  if (v instanceof Uint8Array) return `Uint8Array(${v.length})`;
  return typeof v;
}
