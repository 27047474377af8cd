/**
 * End-to-end tests of listen()/connect() over real Bun UDP sockets on
 * loopback (127.0.0.1 and ::1). Every wait is bounded.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { Channel, Client, connect, listen, parseAddress, Server, type FastnetEvent } from "./index.ts";

const open: (Server | Client)[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((n) => n.close()));
});

async function echoServer(host = "127.0.0.1", extra: Parameters<typeof listen>[0] = {}): Promise<Server> {
  const server = await listen({ host, port: 0, insecurePlaintext: true, ...extra });
  open.push(server);
  void (async () => {
    for await (const ev of server) {
      if (ev.type === "message" && ev.peer.state === "connected") server.send(ev.peer, ev.channel, ev.data);
    }
  })();
  return server;
}

/** Collects events from a client until `done` holds or `ms` pass. */
async function collect(client: Client, done: (evs: FastnetEvent[]) => boolean, ms = 5000): Promise<FastnetEvent[]> {
  const evs: FastnetEvent[] = [];
  const until = performance.now() + ms;
  while (!done(evs) && performance.now() < until) {
    const ev = await client.next(until - performance.now());
    if (ev !== undefined) evs.push(ev);
  }
  return evs;
}

const messages = (evs: FastnetEvent[], channel: number): Uint8Array[] =>
  evs.flatMap((e) => (e.type === "message" && e.channel === channel ? [e.data] : []));

describe("listen/connect over real UDP", () => {
  for (const host of ["127.0.0.1", "::1"]) {
    test(`a client connects over ${host} and every channel echoes`, async () => {
      const server = await echoServer(host);
      const client = await connect({ host, port: server.address.port }, { insecurePlaintext: true });
      open.push(client);
      expect(client.peer.state).toBe("connected");
      for (const ch of [Channel.Reliable, Channel.Unreliable, Channel.ReliableUnordered, Channel.Sequenced]) {
        client.send(ch, new Uint8Array([ch, 1, 2, 3]));
      }
      const evs = await collect(client, (e) => e.filter((x) => x.type === "message").length >= 4);
      for (const ch of [0, 1, 2, 3]) expect(messages(evs, ch)).toEqual([new Uint8Array([ch, 1, 2, 3])]);
    });
  }

  test("reliable-ordered delivers 2,000 messages in order over real UDP", async () => {
    const server = await echoServer();
    const client = await connect(`udp://127.0.0.1:${server.address.port}`, { insecurePlaintext: true });
    open.push(client);
    for (let i = 0; i < 2000; i++) client.send(Channel.Reliable, new Uint8Array(new Uint32Array([i]).buffer));
    const evs = await collect(client, (e) => messages(e, 0).length >= 2000, 10_000);
    const got = messages(evs, 0).map((d) => new DataView(d.buffer, d.byteOffset).getUint32(0, true));
    expect(got.length).toBe(2000);
    expect(got).toEqual(Array.from({ length: 2000 }, (_, i) => i));
  });

  test("a 1 MiB message crosses real UDP byte-exact", async () => {
    const server = await echoServer();
    const client = await connect({ host: "127.0.0.1", port: server.address.port }, { insecurePlaintext: true });
    open.push(client);
    const big = new Uint8Array(1 << 20);
    for (let i = 0; i < big.length; i++) big[i] = (i * 31 + (i >> 8)) & 0xff;
    client.send(Channel.Reliable, big);
    const evs = await collect(client, (e) => messages(e, 0).length >= 1, 15_000);
    const got = messages(evs, 0)[0];
    expect(got?.length).toBe(big.length);
    expect(Buffer.compare(Buffer.from(got!), Buffer.from(big))).toBe(0);
  });

  test("the server sees connected, messages and a prompt closed-by-peer through poll()", async () => {
    const server = await listen({ host: "127.0.0.1", port: 0, insecurePlaintext: true });
    open.push(server);
    const client = await connect({ host: "127.0.0.1", port: server.address.port }, { insecurePlaintext: true });
    open.push(client);
    client.send(Channel.Reliable, new Uint8Array([42]));
    const seen: string[] = [];
    const started = performance.now();
    let disconnectAt = 0;
    let closedAt = 0;
    while (performance.now() - started < 5000 && closedAt === 0) {
      for (let ev = server.poll(); ev !== undefined; ev = server.poll()) {
        seen.push(ev.type === "message" ? `message:${ev.data[0]}` : ev.type === "disconnected" ? `disconnected:${ev.reason}` : ev.type);
        if (ev.type === "message") {
          disconnectAt = performance.now();
          void client.disconnect();
        }
        if (ev.type === "disconnected") closedAt = performance.now();
      }
      await Bun.sleep(1);
    }
    expect(seen).toEqual(["connected", "message:42", "disconnected:closed-by-peer"]);
    expect(server.peers.length).toBe(0);
    // Not a speed check: without the DISCONNECT packet the server would only learn after idleTimeoutMs (10 s).
    expect(closedAt - disconnectAt).toBeLessThan(2000);
  });

  test("spin mode connects and echoes, then stops on close", async () => {
    const server = await echoServer("127.0.0.1", { spin: true });
    const client = await connect({ host: "127.0.0.1", port: server.address.port }, { insecurePlaintext: true, spin: true });
    open.push(client);
    client.send(Channel.Unreliable, new Uint8Array([9]));
    const evs = await collect(client, (e) => messages(e, 1).length >= 1);
    expect(messages(evs, 1)).toEqual([new Uint8Array([9])]);
  });

  test("per-peer stats count packets, bytes and an RTT sample", async () => {
    const server = await echoServer();
    const client = await connect({ host: "127.0.0.1", port: server.address.port }, { insecurePlaintext: true });
    open.push(client);
    for (let i = 0; i < 50; i++) client.send(Channel.Reliable, new Uint8Array(100));
    await collect(client, (e) => messages(e, 0).length >= 50);
    const s = client.peer.stats();
    expect(s.packetsSent).toBeGreaterThan(0);
    expect(s.packetsReceived).toBeGreaterThan(0);
    expect(s.bytesSent).toBeGreaterThan(50 * 100);
    expect(s.messagesReceived).toBe(50);
    expect(s.minRttMs).toBeGreaterThan(0);
    expect(s.rttMs).toBeGreaterThan(0);
    expect(client.stats().socket.datagramsSent).toBeGreaterThan(0);
  });
});

describe("connect failures and bad arguments", () => {
  test("connecting to a port where nothing listens fails with handshake-timeout", async () => {
    const silent = await listen({ host: "127.0.0.1", port: 0, insecurePlaintext: true });
    const port = silent.address.port;
    await silent.close();
    const err = await connect({ host: "127.0.0.1", port }, { insecurePlaintext: true, timeoutMs: 300 }).catch((e) => e);
    expect(err.code).toBe("FASTNET_CONNECT_FAILED");
    expect(String(err.message)).toContain("handshake-timeout");
  });

  test("a server that rejects channel layouts denies the client with a reason", async () => {
    const server = await echoServer("127.0.0.1", { channels: [{ kind: "reliable-ordered" }] });
    const err = await connect({ host: "127.0.0.1", port: server.address.port }, { insecurePlaintext: true, timeoutMs: 2000 }).catch((e) => e);
    expect(err.code).toBe("FASTNET_CONNECT_FAILED");
    expect(String(err.message)).toContain("denied");
    expect(String(err.message)).toContain("channel");
  });

  test("without insecurePlaintext or a secure plugin, listen and connect refuse", async () => {
    expect(listen({ port: 0 })).rejects.toMatchObject({ code: "FASTNET_INSECURE_NOT_ALLOWED" });
    expect(connect("127.0.0.1:9")).rejects.toMatchObject({ code: "FASTNET_INSECURE_NOT_ALLOWED" });
  });

  test.each([
    ["udp://127.0.0.1:7777", { host: "127.0.0.1", port: 7777 }],
    ["127.0.0.1:1", { host: "127.0.0.1", port: 1 }],
    ["[::1]:7777", { host: "::1", port: 7777 }],
    ["localhost:80", { host: "127.0.0.1", port: 80 }],
  ])("parseAddress(%p)", (input, expected) => {
    expect(parseAddress(input)).toEqual(expected);
  });

  test.each(["127.0.0.1", "127.0.0.1:0", "127.0.0.1:70000", ":80", "", "[::1]"])("parseAddress(%p) throws FASTNET_INVALID_ARGUMENT", (input) => {
    expect(() => parseAddress(input)).toThrow(expect.objectContaining({ code: "FASTNET_INVALID_ARGUMENT" }));
  });

  test("listen rejects an invalid port with a code", async () => {
    expect(listen({ port: 70000, insecurePlaintext: true })).rejects.toMatchObject({ code: "FASTNET_INVALID_ARGUMENT" });
  });

  test("send after disconnect throws FASTNET_NOT_CONNECTED", async () => {
    const server = await echoServer();
    const client = await connect({ host: "127.0.0.1", port: server.address.port }, { insecurePlaintext: true });
    await client.disconnect();
    expect(() => client.send(Channel.Reliable, new Uint8Array(1))).toThrow(expect.objectContaining({ code: "FASTNET_NOT_CONNECTED" }));
  });
});

describe("onEvent handler", () => {
  test("server and client handlers see every event in order, synchronously, and a reply from the handler arrives", async () => {
    const server = await listen({ host: "127.0.0.1", port: 0, insecurePlaintext: true });
    open.push(server);
    const seen: string[] = [];
    server.onEvent = (ev) => {
      seen.push(ev.type);
      if (ev.type === "message") server.send(ev.peer, ev.channel, ev.data);
    };
    const client = await connect({ host: "127.0.0.1", port: server.address.port }, { insecurePlaintext: true });
    open.push(client);
    const got: number[] = [];
    let done: (() => void) | undefined;
    const all = new Promise<void>((r) => (done = r));
    client.onEvent = (ev) => {
      if (ev.type === "message") got.push(ev.data[0]!);
      if (got.length === 200) done?.();
    };
    for (let i = 0; i < 200; i++) client.send(Channel.Reliable, new Uint8Array([i]));
    await Promise.race([all, Bun.sleep(5000)]);
    expect(got).toEqual(Array.from({ length: 200 }, (_, i) => i));
    expect(seen[0]).toBe("connected");
    expect(seen.filter((t) => t === "message").length).toBe(200);
    // The handler took them all: nothing is left for poll().
    expect(client.poll()).toBeUndefined();
    expect(server.poll()).toBeUndefined();
  });

  test("events queued before the handler is set are handed over at once; undefined gives them back to next()", async () => {
    const server = await echoServer();
    const client = await connect({ host: "127.0.0.1", port: server.address.port }, { insecurePlaintext: true });
    open.push(client);
    client.send(Channel.Reliable, new Uint8Array([1]));
    // Wait until the echo is queued, without taking it.
    for (let i = 0; i < 500 && client.peer.stats().messagesReceived === 0; i++) await Bun.sleep(2);
    expect(client.peer.stats().messagesReceived).toBe(1);
    const taken: FastnetEvent[] = [];
    client.onEvent = (ev) => void taken.push(ev);
    expect(taken.map((e) => e.type)).toEqual(["message"]);
    client.onEvent = undefined;
    client.send(Channel.Reliable, new Uint8Array([2]));
    const evs = await collect(client, (e) => messages(e, 0).length >= 1);
    expect(messages(evs, 0)).toEqual([new Uint8Array([2])]);
  });

  test("a throwing handler is counted and the next events are still delivered; a non-function is refused", async () => {
    const server = await echoServer();
    const client = await connect({ host: "127.0.0.1", port: server.address.port }, { insecurePlaintext: true });
    open.push(client);
    const got: number[] = [];
    client.onEvent = (ev) => {
      if (ev.type !== "message") return;
      got.push(ev.data[0]!);
      if (ev.data[0] === 0) throw new Error("game bug");
    };
    client.send(Channel.Reliable, new Uint8Array([0]));
    client.send(Channel.Reliable, new Uint8Array([1]));
    for (let i = 0; i < 500 && got.length < 2; i++) await Bun.sleep(2);
    expect(got).toEqual([0, 1]);
    expect(client.stats().handlerErrors).toBe(1);
    expect(() => {
      (client as unknown as { onEvent: unknown }).onEvent = 42;
    }).toThrow(expect.objectContaining({ code: "FASTNET_INVALID_ARGUMENT" }));
  });

  test("close() ends a pending iterator even while a handler takes the events", async () => {
    const server = await listen({ host: "127.0.0.1", port: 0, insecurePlaintext: true });
    const it = server[Symbol.asyncIterator]();
    const pending = it.next();
    server.onEvent = () => {};
    await server.close();
    const r = await Promise.race([pending, Bun.sleep(2000).then(() => "timeout" as const)]);
    expect(r).toEqual({ value: undefined, done: true });
  });
});
