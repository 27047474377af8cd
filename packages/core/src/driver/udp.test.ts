/**
 * UdpTransport over real sockets on 127.0.0.1 and ::1 (plus a fake socket for
 * EAGAIN, which loopback never produces: loopback frees send-buffer space at
 * once). Every wait is bounded in time; no timing is asserted.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { UdpTransport, type UdpSocketHandlers, type UdpSocketLike } from "./udp.ts";

const open: UdpTransport[] = [];
afterEach(() => {
  for (const t of open.splice(0)) t.close();
});

async function bind(host: string, opts: Parameters<typeof UdpTransport.bind>[0] = {}): Promise<UdpTransport> {
  const t = await UdpTransport.bind({ host, ...opts });
  open.push(t);
  return t;
}

/** Polls `cond` every ms until true or `ms` elapsed; returns the last value. */
async function waitFor(cond: () => boolean, ms = 2000): Promise<boolean> {
  const end = performance.now() + ms;
  while (!cond() && performance.now() < end) await Bun.sleep(1);
  return cond();
}

function collect(t: UdpTransport): { data: Uint8Array; port: number; host: string }[] {
  const got: { data: Uint8Array; port: number; host: string }[] = [];
  t.onDatagram((data, port, host) => got.push({ data: data.slice(), port, host }));
  return got;
}

describe("UdpTransport over real sockets", () => {
  test("two transports exchange datagrams over IPv4", async () => {
    const a = await bind("127.0.0.1");
    const b = await bind("127.0.0.1");
    expect(a.address).toMatchObject({ host: "127.0.0.1", family: "IPv4" });
    expect(a.address.port).toBeGreaterThan(0);
    const atB = collect(b);
    const atA = collect(a);
    a.send(new Uint8Array([1, 2, 3]), b.address.port, "127.0.0.1");
    expect(await waitFor(() => atB.length === 1)).toBe(true);
    expect([...atB[0]!.data]).toEqual([1, 2, 3]);
    expect(atB[0]!.port).toBe(a.address.port);
    b.send(new Uint8Array([9]), atB[0]!.port, atB[0]!.host);
    expect(await waitFor(() => atA.length === 1)).toBe(true);
    expect(a.stats).toMatchObject({ datagramsSent: 1, datagramsReceived: 1, bytesSent: 3, bytesReceived: 1 });
  });

  test("two transports exchange datagrams over IPv6 (::1)", async () => {
    const a = await bind("::1");
    const b = await bind("::1");
    expect(a.address).toMatchObject({ host: "::1", family: "IPv6" });
    const atB = collect(b);
    const atA = collect(a);
    a.send(new Uint8Array([6, 6]), b.address.port, "::1");
    expect(await waitFor(() => atB.length === 1)).toBe(true);
    expect(atB[0]!.host).toBe("::1");
    b.send(new Uint8Array([7]), atB[0]!.port, atB[0]!.host);
    expect(await waitFor(() => atA.length === 1)).toBe(true);
    expect([...atA[0]!.data]).toEqual([7]);
  });

  test("a dual-stack :: socket reports IPv4 senders as ::ffff:a.b.c.d and can answer them", async () => {
    const server = await bind("::");
    const client = await bind("127.0.0.1");
    const atServer = collect(server);
    const atClient = collect(client);
    client.send(new Uint8Array([1]), server.address.port, "127.0.0.1");
    expect(await waitFor(() => atServer.length === 1)).toBe(true);
    expect(atServer[0]!.host).toBe("::ffff:127.0.0.1");
    server.send(new Uint8Array([2]), atServer[0]!.port, atServer[0]!.host);
    expect(await waitFor(() => atClient.length === 1)).toBe(true);
  });

  test("a batch of 200 queued datagrams goes out in one sendMany and arrives", async () => {
    const a = await bind("127.0.0.1");
    const b = await bind("127.0.0.1", { recvBufferBytes: 1 << 20 });
    const atB = collect(b);
    for (let i = 0; i < 200; i++) a.queue(new Uint8Array([i & 0xff, i >> 8, 0xab]), b.address.port, "127.0.0.1");
    expect(a.batchLength).toBe(200);
    a.flushBatch();
    expect(a.batchLength).toBe(0);
    expect(a.stats.batchesSent).toBe(1);
    expect(a.stats.datagramsSent).toBe(200);
    expect(await waitFor(() => atB.length === 200)).toBe(true);
    const seen = new Set(atB.map((g) => g.data[0]! | (g.data[1]! << 8)));
    expect(seen.size).toBe(200);
  });

  test("sendMany copies the bytes synchronously: mutating after flushBatch does not change what arrives", async () => {
    const a = await bind("127.0.0.1");
    const b = await bind("127.0.0.1");
    const atB = collect(b);
    const buf = new Uint8Array(16).fill(1);
    a.queue(buf, b.address.port, "127.0.0.1");
    a.queue(buf, b.address.port, "127.0.0.1");
    a.flushBatch();
    buf.fill(2);
    expect(await waitFor(() => atB.length === 2)).toBe(true);
    expect(atB.every((g) => g.data.every((x) => x === 1))).toBe(true);
  });

  test("a 70,000-byte datagram is counted as EMSGSIZE, does not throw, and the rest of its batch arrives", async () => {
    const a = await bind("127.0.0.1");
    const b = await bind("127.0.0.1");
    const atB = collect(b);
    const port = b.address.port;
    // Oversize first (sendMany throws) and in the middle (sendMany stops short).
    a.queue(new Uint8Array(70_000), port, "127.0.0.1");
    a.queue(new Uint8Array([1]), port, "127.0.0.1");
    a.queue(new Uint8Array([2]), port, "127.0.0.1");
    a.queue(new Uint8Array(70_000), port, "127.0.0.1");
    a.queue(new Uint8Array([3]), port, "127.0.0.1");
    a.queue(new Uint8Array([4]), port, "127.0.0.1");
    expect(() => a.flushBatch()).not.toThrow();
    expect(a.stats.sendErrors).toEqual({ EMSGSIZE: 2 });
    expect(a.stats.datagramsSent).toBe(4);
    expect(await waitFor(() => atB.length === 4)).toBe(true);
    expect(atB.map((g) => g.data[0])).toEqual([1, 2, 3, 4]);
  });

  test("a hostname instead of an IP is counted (Bun throws ERR_INVALID_ARG_TYPE), the others still arrive", async () => {
    const a = await bind("127.0.0.1");
    const b = await bind("127.0.0.1");
    const atB = collect(b);
    const port = b.address.port;
    a.queue(new Uint8Array([1]), port, "127.0.0.1");
    a.queue(new Uint8Array([2]), port, "localhost");
    a.queue(new Uint8Array([3]), port, "127.0.0.1");
    a.queue(new Uint8Array([4]), 0, "127.0.0.1");
    a.queue(new Uint8Array([5]), port, "127.0.0.1");
    expect(() => a.flushBatch()).not.toThrow();
    expect(a.stats.sendErrors).toEqual({ ERR_INVALID_ARG_TYPE: 2 });
    expect(await waitFor(() => atB.length === 3)).toBe(true);
    expect(atB.map((g) => g.data[0])).toEqual([1, 3, 5]);
  });

  test("an IPv6 destination on an IPv4 socket is counted (EAFNOSUPPORT), not thrown", async () => {
    const a = await bind("127.0.0.1");
    expect(() => a.send(new Uint8Array([1]), 9, "::1")).not.toThrow();
    expect(a.stats.sendErrors).toEqual({ EAFNOSUPPORT: 1 });
  });

  test("sending to a closed port counts ECONNREFUSED through the error handler; the process keeps running", async () => {
    const a = await bind("127.0.0.1");
    const gone = await UdpTransport.bind({ host: "127.0.0.1" });
    const port = gone.address.port;
    gone.close();
    a.send(new Uint8Array([1]), port, "127.0.0.1");
    expect(await waitFor(() => (a.stats.socketErrors.ECONNREFUSED ?? 0) >= 1)).toBe(true);
    // Still usable afterwards.
    const b = await bind("127.0.0.1");
    const atB = collect(b);
    a.send(new Uint8Array([2]), b.address.port, "127.0.0.1");
    expect(await waitFor(() => atB.length === 1)).toBe(true);
  });

  test("recvBufferBytes: the effective size covers the request, or bufferSizeApplied is false with a reason", async () => {
    const want = 4 << 20;
    const t = await bind("127.0.0.1", { recvBufferBytes: want, sendBufferBytes: 1 << 20 });
    if (t.bufferSizeApplied) {
      expect(t.recvBufferBytes!).toBeGreaterThanOrEqual(want);
      expect(t.sendBufferBytes!).toBeGreaterThanOrEqual(1 << 20);
      expect(t.bufferSizeNote).toBeUndefined();
    } else {
      expect(typeof t.bufferSizeNote).toBe("string");
    }
  });

  test("reusePort lets two sockets share a port; without it the second bind fails with FASTNET_SOCKET", async () => {
    const a = await bind("127.0.0.1", { reusePort: true });
    const b = await bind("127.0.0.1", { port: a.address.port, reusePort: true });
    expect(b.address.port).toBe(a.address.port);
    const c = await bind("127.0.0.1");
    await expect(UdpTransport.bind({ host: "127.0.0.1", port: c.address.port })).rejects.toMatchObject({ code: "FASTNET_SOCKET" });
  });

  test("bad options throw FASTNET_INVALID_CONFIG", async () => {
    await expect(UdpTransport.bind({ port: 70000 })).rejects.toMatchObject({ code: "FASTNET_INVALID_CONFIG" });
    await expect(UdpTransport.bind({ recvBufferBytes: -1 })).rejects.toMatchObject({ code: "FASTNET_INVALID_CONFIG" });
  });

  test("after close, queue and flush count drops and never throw", async () => {
    const t = await UdpTransport.bind({ host: "127.0.0.1" });
    t.close();
    t.close();
    expect(() => {
      t.queue(new Uint8Array(1), 9, "127.0.0.1");
      t.flushBatch();
    }).not.toThrow();
    expect(t.stats.sendDropped).toBe(1);
    expect(t.closed).toBe(true);
  });
});

/** A socket that accepts `budget` datagrams, then answers EAGAIN until refilled. */
class FakeSocket implements UdpSocketLike {
  budget = 0;
  readonly sent: { data: number[]; port: number; host: string }[] = [];
  handlers: UdpSocketHandlers | undefined;
  closed = false;
  sendMany(packets: readonly (Uint8Array | number | string)[]): number {
    let n = 0;
    for (let i = 0; i + 2 < packets.length && this.budget > 0; i += 3, n++) {
      this.budget--;
      this.sent.push({ data: [...(packets[i] as Uint8Array)], port: packets[i + 1] as number, host: packets[i + 2] as string });
    }
    return n;
  }
  send(data: Uint8Array, port: number, host: string): boolean {
    return this.sendMany([data, port, host]) === 1;
  }
  close(): void {
    this.closed = true;
  }
  reload(h: UdpSocketHandlers): void {
    this.handlers = h;
  }
}

describe("UdpTransport EAGAIN backlog (fake socket)", () => {
  test("keeps what EAGAIN refused, in order, and sends it on drain", () => {
    const s = new FakeSocket();
    const t = UdpTransport.adopt(s);
    s.budget = 2;
    const buf = new Uint8Array(1);
    for (let i = 0; i < 5; i++) {
      buf[0] = i;
      t.queue(buf.slice(), 1000, "127.0.0.1");
    }
    t.flushBatch();
    expect(s.sent.map((p) => p.data[0])).toEqual([0, 1]);
    expect(t.backlogLength).toBe(3);
    // New datagrams queue behind the backlog.
    buf[0] = 5;
    t.queue(buf, 1000, "127.0.0.1");
    t.flushBatch();
    buf[0] = 99; // the transport copied it when it had to keep it
    expect(t.backlogLength).toBe(4);
    s.budget = 100;
    s.handlers!.drain(undefined);
    expect(s.sent.map((p) => p.data[0])).toEqual([0, 1, 2, 3, 4, 5]);
    expect(t.backlogLength).toBe(0);
    expect(t.stats).toMatchObject({ datagramsSent: 6, drainEvents: 1, sendDropped: 0 });
  });

  test("the backlog is bounded: beyond maxBacklog datagrams are dropped and counted", () => {
    const s = new FakeSocket();
    const t = UdpTransport.adopt(s, { maxBacklog: 10 });
    for (let i = 0; i < 25; i++) t.queue(new Uint8Array([i]), 1000, "127.0.0.1");
    t.flushBatch();
    expect(t.backlogLength).toBe(10);
    expect(t.stats.sendDropped).toBe(15);
    s.budget = 4;
    s.handlers!.drain(undefined);
    expect(s.sent.map((p) => p.data[0])).toEqual([0, 1, 2, 3]);
    expect(t.backlogLength).toBe(6);
    s.budget = 100;
    s.handlers!.drain(undefined);
    expect(s.sent.length).toBe(10);
    t.close();
    expect(s.closed).toBe(true);
  });

  test("onDatagram and onDrain callbacks that throw are counted, not propagated", () => {
    const s = new FakeSocket();
    const t = UdpTransport.adopt(s);
    t.onDatagram(() => {
      throw new Error("app bug");
    });
    t.onDrain(() => {
      throw new Error("app bug");
    });
    expect(() => s.handlers!.data(undefined, new Uint8Array(1), 1, "127.0.0.1", { truncated: false })).not.toThrow();
    expect(() => s.handlers!.drain(undefined)).not.toThrow();
    s.handlers!.data(undefined, new Uint8Array(1), 1, "127.0.0.1", { truncated: true });
    s.handlers!.error(new Error("no code"));
    expect(t.stats).toMatchObject({ callbackErrors: 2, datagramsReceived: 1, datagramsTruncated: 1, socketErrors: { UNKNOWN: 1 } });
  });
});
