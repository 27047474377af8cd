/**
 * fastnet echo server: `bun src/server.ts [--host 0.0.0.0] [--port 7777] [--spin]`.
 * Echoes every message on the channel it arrived on. Prints one JSON line
 * {"listening":{host,port}} first so scripts can find the port.
 */
import { parseArgs } from "node:util";
import { startEchoServer } from "./echo.ts";

const { values } = parseArgs({
  options: {
    host: { type: "string", default: "0.0.0.0" },
    port: { type: "string", default: "7777" },
    spin: { type: "boolean", default: false },
  },
});
const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`--port must be an integer in [0, 65535], got ${values.port}`);
  process.exit(2);
}
const { server, done } = await startEchoServer(
  { host: values.host, port, spin: values.spin, insecurePlaintext: true },
  (line) => console.log(line),
);
console.log(JSON.stringify({ listening: server.address }));
console.log(`fastnet echo server on udp://${server.address.host}:${server.address.port} (core only: insecure plaintext)`);
const stop = async (): Promise<void> => {
  await server.close();
};
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
const echoed = await done;
console.log(`closed after echoing ${echoed} messages`);
