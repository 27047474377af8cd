/**
 * Encrypted vs unencrypted vs raw RTT in one interleaved run (issue target:
 * encrypted reliable p50 <= 1.15x raw Bun UDP, p99 <= 1.3x). Transports: raw
 * Bun.udpSocket, fastnet core plaintext (reliable), fastnet encrypted
 * (unreliable, reliable), each normal and spin mode.
 *
 * Run: `bun packages/fastnet/bench/rtt.ts [--pings 4000] [--rounds 5] [--quick]`
 */
import { Channel, connect as connectPlain, listen } from "@fastnet/core";
import { generateSelfSignedCertificate } from "@fastnet/crypto";
import { clientPinger, echoAll, rawTransport, runRttMain, type RttTransport } from "../../core/bench/rtt.ts";
import { connect, createServer } from "../src/index.ts";

// The echo processes inherit the certificate through the environment: clients pin it.
if (process.env.FASTNET_BENCH_CERT === undefined) {
  const c = generateSelfSignedCertificate();
  process.env.FASTNET_BENCH_CERT = c.certPem;
  process.env.FASTNET_BENCH_KEY = c.keyPem;
  process.env.FASTNET_BENCH_FP = c.fingerprint256;
}
const env = { cert: process.env.FASTNET_BENCH_CERT!, key: process.env.FASTNET_BENCH_KEY!, fingerprint: process.env.FASTNET_BENCH_FP! };

const plainReliable: RttTransport = {
  name: "plain-reliable",
  async echo(spin) {
    const server = await listen({ host: "127.0.0.1", port: 0, insecurePlaintext: true, spin });
    echoAll(server);
    return server.address.port;
  },
  async pinger(port, spin) {
    return clientPinger(await connectPlain({ host: "127.0.0.1", port }, { insecurePlaintext: true, spin }), Channel.Reliable);
  },
};

function encrypted(name: string, channel: number): RttTransport {
  return {
    name,
    async echo(spin) {
      const server = await createServer({ host: "127.0.0.1", port: 0, cert: env.cert, key: env.key, spin, log: () => {} });
      echoAll(server);
      return server.port;
    },
    async pinger(port, spin) {
      return clientPinger(await connect({ host: "127.0.0.1", port }, { fingerprint: env.fingerprint, spin }), channel);
    },
  };
}

export const transports: RttTransport[] = [
  rawTransport,
  plainReliable,
  encrypted("encrypted-unreliable", Channel.Unreliable),
  encrypted("encrypted-reliable", Channel.Reliable),
];

if (import.meta.main) await runRttMain(import.meta.path, transports, "RTT, raw vs fastnet plaintext vs fastnet encrypted");
