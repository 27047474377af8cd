/**
 * @fastnet/crypto: TLS 1.3 handshake over TCP that keys ChaCha20-Poly1305
 * datagram protection for @fastnet/core (RFC 8446 exporter, RFC 8439 AEAD,
 * RFC 6479 replay window, RFC 9001-style key update).
 */
export { CryptoClientPlugin, CryptoServerPlugin, CRYPTO_OVERHEAD, FLAG_KEY_PHASE } from "./plugin.ts";
export type { CryptoPluginOptions, CryptoStats } from "./plugin.ts";
export { Session, DEFAULT_KEY_UPDATE, type KeyUpdatePolicy, type OpenFailure } from "./session.ts";
export { TlsControlServer, tlsHandshake, normalizeFingerprint, encodeWelcome, decodeWelcome, WELCOME_SIZE, ALPN } from "./tls.ts";
export type { TlsServerOptions, TlsServerStats, TlsClientOptions, ClientHandshake, Welcome } from "./tls.ts";
export { defaultAead, sodiumFfiAead } from "./sodium-ffi.ts";
export { sodiumAead, nobleAead, writeNonce, type Aead, KEY_SIZE, NONCE_SIZE, TAG_SIZE } from "./aead.ts";
export { ReplayWindow } from "./replay.ts";
export { deriveDirectionSecrets, nextSecret, packetKey, hkdfExpandLabel, EXPORTER_LABEL, EXPORTER_LENGTH } from "./keys.ts";
export { generateSelfSignedCertificate, fingerprint256, type DevCertificate } from "./cert.ts";
