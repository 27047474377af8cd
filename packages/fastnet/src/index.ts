/**
 * fastnet: the secure-by-default umbrella. `createServer()` and `connect()`
 * wire @fastnet/core and @fastnet/crypto together: a TLS 1.3 handshake over
 * TCP keys ChaCha20-Poly1305 for every UDP datagram. Same port number for TCP
 * (handshake) and UDP (game traffic).
 */
export { createServer, SecureServer, type CreateServerOptions } from "./server.ts";
export { connect, SecureClient, type SecureConnectOptions } from "./client.ts";
export { Channel, type FastnetEvent, type Peer, FastnetError, ErrorCode } from "@fastnet/core";
export { generateSelfSignedCertificate, fingerprint256 } from "@fastnet/crypto";
