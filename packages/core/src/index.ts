/**
 * @fastnet/core: low-latency UDP networking for games on Bun.
 * `listen`/`connect` for real sockets; the sans-IO `Endpoint` for custom
 * drivers; `@fastnet/core/sim` for the simulator; `@fastnet/core/testing`
 * for plugin authors.
 */
export { listen, connect, Server, Client, Channel, parseAddress } from "./api.ts";
export type { ListenOptions, ConnectOptions, SocketOptions, FastnetEvent } from "./api.ts";
export * from "./protocol/index.ts";
export * from "./driver/index.ts";
