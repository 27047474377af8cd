/**
 * fastnet echo server: `bun src/server.ts [--host 0.0.0.0] [--port 7777] [--spin] [--cert c.pem --key k.pem]`.
 * Encrypted: TLS 1.3 on TCP and ChaCha20-Poly1305 on UDP, same port number.
 * Without --cert/--key it runs in dev mode with an ephemeral self-signed
 * certificate. Echoes every message on the channel it arrived on. Prints one
 * JSON line {"listening":{host,port},"fingerprint":...} first so scripts can
 * find the port and the fingerprint to pin.
 */
import { parseArgs } from "node:util";
import { startEchoServer } from "./echo.ts";

const { values } = parseArgs({
  options: {
    host: { type: "string", default: "0.0.0.0" },
    port: { type: "string", default: "7777" },
    spin: { type: "boolean", default: false },
    cert: { type: "string" },
    key: { type: "string" },
  },
});
const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`--port must be an integer in [0, 65535], got ${values.port}`);
  process.exit(2);
}
const tlsFiles = values.cert !== undefined && values.key !== undefined
  ? { cert: await Bun.file(values.cert).text(), key: await Bun.file(values.key).text() }
  : {};
const { server, done } = await startEchoServer(
  { host: values.host, port, spin: values.spin, ...tlsFiles, log: () => {} },
  (line) => console.log(line),
);
console.log(JSON.stringify({ listening: server.address, fingerprint: server.fingerprint256 }));
console.log(`fastnet echo server on udp://${server.address.host}:${server.address.port} (TLS 1.3 handshake on tcp/${server.port}, ChaCha20-Poly1305 datagrams)`);
console.log(server.devCertificate
  ? `dev mode: ephemeral self-signed certificate, SHA-256 fingerprint ${server.fingerprint256}`
  : `certificate SHA-256 fingerprint ${server.fingerprint256}`);
const stop = async (): Promise<void> => {
  await server.close();
};
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
const echoed = await done;
console.log(`closed after echoing ${echoed} messages`);
