/**
 * EndpointRunner over real UDP on 127.0.0.1 and ::1, driving tiny sans-IO
 * endpoints written here (echo, pinger, scripted deadlines). Every wait is
 * bounded; timing is recorded, never asserted.
 */
import { afterEach, describe, expect, test } from "bun:test";
import type { Address, Transmit } from "../protocol/types.ts";
import { EndpointRunner, type DrivableEndpoint, type RunnerPhase } from "./runner.ts";
import { UdpTransport } from "./udp.ts";

const cleanup: (() => void)[] = [];
afterEach(() => {
  for (const f of cleanup.splice(0)) f();
});

async function waitFor(cond: () => boolean, ms = 2000): Promise<boolean> {
  const end = performance.now() + ms;
  while (!cond() && performance.now() < end) await Bun.sleep(1);
  return cond();
}

async function run(
  endpoint: DrivableEndpoint,
  host = "127.0.0.1",
  opts: ConstructorParameters<typeof EndpointRunner>[2] = {},
): Promise<{ runner: EndpointRunner; transport: UdpTransport; port: number }> {
  const transport = await UdpTransport.bind({ host });
  const runner = new EndpointRunner(endpoint, transport, opts);
  cleanup.push(() => runner.close());
  return { runner, transport, port: transport.address.port };
}

/** Sends every datagram it receives back to its sender. */
class EchoEndpoint implements DrivableEndpoint {
  readonly mtu = 1200;
  private readonly queue: { to: Address; data: Uint8Array }[] = [];
  private head = 0;
  private readonly tx: Transmit = { to: { host: "", port: 0 }, size: 0 };
  handleDatagram(_now: number, from: Address, data: Uint8Array): void {
    // `from` and `data` are reused by the runner: copy what is kept.
    this.queue.push({ to: { host: from.host, port: from.port }, data: data.slice() });
  }
  handleTimeout(): void {}
  pollTransmit(_now: number, buf: Uint8Array): Transmit | null {
    const item = this.queue[this.head];
    if (item === undefined) return null;
    this.queue[this.head++] = undefined as never;
    buf.set(item.data);
    this.tx.to = item.to;
    this.tx.size = item.data.length;
    return this.tx;
  }
  pollTimeout(): number {
    return Infinity;
  }
}

/** Sends `count` pings `intervalMs` apart from its timer; counts the pongs. */
class Pinger implements DrivableEndpoint {
  readonly mtu = 1200;
  sent = 0;
  pongs = 0;
  readonly lateness: number[] = [];
  private next: number;
  private due = false;
  private readonly tx: Transmit;
  readonly badPongs: number[] = [];
  constructor(
    private readonly to: Address,
    private readonly count: number,
    private readonly intervalMs: number,
  ) {
    this.tx = { to, size: 0 };
    this.next = performance.now();
  }
  handleDatagram(_now: number, _from: Address, data: Uint8Array): void {
    const seq = data[0]! | (data[1]! << 8);
    if (data.length !== 64 || seq >= this.sent) this.badPongs.push(seq);
    this.pongs++;
  }
  handleTimeout(now: number): void {
    if (this.sent >= this.count || now < this.next) return;
    this.lateness.push(now - this.next);
    this.due = true;
    this.next += this.intervalMs;
  }
  pollTransmit(_now: number, buf: Uint8Array): Transmit | null {
    if (!this.due) return null;
    this.due = false;
    buf.fill(0, 0, 64);
    buf[0] = this.sent & 0xff;
    buf[1] = this.sent >> 8;
    this.sent++;
    this.tx.size = 64;
    return this.tx;
  }
  pollTimeout(): number {
    return this.sent < this.count ? this.next : Infinity;
  }
}

/** Deadlines from a script; records each handleTimeout. */
class TimerEndpoint implements DrivableEndpoint {
  readonly mtu = 100;
  readonly calls: { now: number; deadline: number }[] = [];
  constructor(public deadlines: number[]) {}
  handleDatagram(): void {}
  handleTimeout(now: number): void {
    const d = this.deadlines[0];
    if (d !== undefined && now >= d) {
      this.calls.push({ now, deadline: d });
      this.deadlines.shift();
    }
  }
  pollTransmit(): Transmit | null {
    return null;
  }
  pollTimeout(): number {
    return this.deadlines[0] ?? Infinity;
  }
}

describe("EndpointRunner over real UDP", () => {
  test("a pinger driven by its timer gets every ping echoed back (IPv4)", async () => {
    const server = await run(new EchoEndpoint());
    const pinger = new Pinger({ host: "127.0.0.1", port: server.port }, 20, 1);
    const client = await run(pinger);
    expect(await waitFor(() => pinger.pongs === 20)).toBe(true);
    expect(pinger.badPongs).toEqual([]);
    expect(client.runner.stats.timeouts).toBeGreaterThanOrEqual(20);
    expect(server.runner.stats).toMatchObject({ datagramsIn: 20, transmits: 20, endpointErrors: 0 });
    // Done pinging: no deadline, no timer.
    expect(await waitFor(() => !client.runner.timerArmed)).toBe(true);
    expect(client.runner.deadline).toBe(Infinity);
  });

  test("echo round trips over IPv6 (::1)", async () => {
    const server = await run(new EchoEndpoint(), "::1");
    const pinger = new Pinger({ host: "::1", port: server.port }, 10, 1);
    await run(pinger, "::1");
    expect(await waitFor(() => pinger.pongs === 10)).toBe(true);
  });

  test("with immediate scheduling a burst of 100 datagrams is handled in few flushes, its replies batched into few sendMany calls", async () => {
    const server = await run(new EchoEndpoint(), "127.0.0.1", { flushScheduling: "immediate" });
    const client = await UdpTransport.bind({ host: "127.0.0.1" });
    cleanup.push(() => client.close());
    let back = 0;
    client.onDatagram(() => back++);
    for (let i = 0; i < 100; i++) client.queue(new Uint8Array([i]), server.port, "127.0.0.1");
    client.flushBatch();
    expect(await waitFor(() => back === 100)).toBe(true);
    const s = server.runner.stats;
    expect(s.datagramsIn).toBe(100);
    expect(s.transmits).toBe(100);
    // One flush per receive batch, not one per datagram.
    expect(s.flushes).toBeLessThan(100);
    expect(server.transport.stats.batchesSent).toBe(s.flushes);
  });

  test("with the default microtask scheduling every reply of a burst is sent, each by the callback that produced it", async () => {
    const server = await run(new EchoEndpoint());
    const client = await UdpTransport.bind({ host: "127.0.0.1" });
    cleanup.push(() => client.close());
    let back = 0;
    client.onDatagram(() => back++);
    for (let i = 0; i < 100; i++) client.queue(new Uint8Array([i]), server.port, "127.0.0.1");
    client.flushBatch();
    expect(await waitFor(() => back === 100)).toBe(true);
    const s = server.runner.stats;
    expect(s.datagramsIn).toBe(100);
    expect(s.transmits).toBe(100);
    expect(server.transport.stats.batchesSent).toBe(s.flushes);
  });

  test("more transmits than pool buffers: the batch is sent when the pool wraps, and every datagram keeps its own bytes", async () => {
    const sink = await UdpTransport.bind({ host: "127.0.0.1", recvBufferBytes: 4 << 20 });
    cleanup.push(() => sink.close());
    const seen = new Set<number>();
    sink.onDatagram((d) => seen.add(d[0]! | (d[1]! << 8)));
    const to = { host: "127.0.0.1", port: sink.address.port };
    let n = 0;
    const tx: Transmit = { to, size: 2 };
    const burst: DrivableEndpoint = {
      mtu: 64,
      handleDatagram() {},
      handleTimeout() {},
      pollTransmit(_now, buf) {
        if (n >= 600) return null;
        buf[0] = n & 0xff;
        buf[1] = n >> 8;
        n++;
        return tx;
      },
      pollTimeout: () => Infinity,
    };
    const { transport } = await run(burst, "127.0.0.1", { poolSize: 256 });
    expect(await waitFor(() => seen.size === 600)).toBe(true);
    expect(transport.stats.batchesSent).toBe(3);
  });

  test("a timer fires at its deadline and handleTimeout sees now >= deadline", async () => {
    const t0 = performance.now();
    const ep = new TimerEndpoint([t0 + 15, t0 + 30]);
    const { runner } = await run(ep);
    expect(await waitFor(() => ep.calls.length === 2)).toBe(true);
    for (const c of ep.calls) expect(c.now).toBeGreaterThanOrEqual(c.deadline);
    expect(await waitFor(() => !runner.timerArmed)).toBe(true);
  });

  test("a deadline already in the past is handled at once", async () => {
    const ep = new TimerEndpoint([performance.now() - 5]);
    await run(ep);
    expect(await waitFor(() => ep.calls.length === 1)).toBe(true);
  });

  test("an endpoint whose deadline is always due does not starve the event loop", async () => {
    let calls = 0;
    const ep: DrivableEndpoint = {
      mtu: 100,
      handleDatagram() {},
      handleTimeout() {
        calls++;
      },
      pollTransmit: () => null,
      pollTimeout: () => 0,
    };
    const { runner } = await run(ep);
    let ticked = false;
    setTimeout(() => (ticked = true), 5);
    expect(await waitFor(() => ticked && calls > 8)).toBe(true);
    runner.close();
    const after = calls;
    await Bun.sleep(10);
    expect(calls).toBe(after);
  });

  test("spin mode: echo works, timers fire without setTimeout, and stopSpin stops the loop", async () => {
    const server = await run(new EchoEndpoint(), "127.0.0.1", { spin: true });
    const pinger = new Pinger({ host: "127.0.0.1", port: server.port }, 20, 1);
    const client = await run(pinger, "127.0.0.1", { spin: true });
    expect(client.runner.spinEnabled).toBe(true);
    expect(await waitFor(() => pinger.pongs === 20)).toBe(true);
    expect(client.runner.timerArmed).toBe(false);
    expect(client.runner.stats.spinTurns).toBeGreaterThan(0);
    server.runner.stopSpin();
    client.runner.stopSpin();
    await Bun.sleep(2);
    const turns = client.runner.stats.spinTurns + server.runner.stats.spinTurns;
    await Bun.sleep(10);
    expect(client.runner.stats.spinTurns + server.runner.stats.spinTurns).toBe(turns);
    // Still works with timers after spinning stopped.
    const ep = new TimerEndpoint([performance.now() + 5]);
    const r = await run(ep, "127.0.0.1", { spin: true });
    r.runner.stopSpin();
    expect(r.runner.timerArmed).toBe(true);
    expect(await waitFor(() => ep.calls.length === 1)).toBe(true);
  });

  test("errors thrown by the endpoint are counted and reported through onError; the runner keeps going", async () => {
    const errors: RunnerPhase[] = [];
    const echo = new EchoEndpoint();
    let throwNext = true;
    const flaky: DrivableEndpoint = {
      mtu: echo.mtu,
      handleDatagram(now, from, data) {
        if (throwNext) {
          throwNext = false;
          throw new Error("bug in handleDatagram");
        }
        echo.handleDatagram(now, from, data);
      },
      handleTimeout() {},
      pollTransmit: (now, buf) => echo.pollTransmit(now, buf),
      pollTimeout: () => {
        throw new Error("bug in pollTimeout");
      },
    };
    const server = await run(flaky, "127.0.0.1", { onError: (_e, phase) => errors.push(phase) });
    const client = await UdpTransport.bind({ host: "127.0.0.1" });
    cleanup.push(() => client.close());
    let back = 0;
    client.onDatagram(() => back++);
    client.send(new Uint8Array([1]), server.port, "127.0.0.1");
    client.send(new Uint8Array([2]), server.port, "127.0.0.1");
    expect(await waitFor(() => back === 1)).toBe(true);
    expect(errors).toContain("datagram");
    expect(errors).toContain("deadline");
    expect(server.runner.stats.endpointErrors).toBe(errors.length);
  });

  test("close() stops the timer and closes the socket", async () => {
    const ep = new TimerEndpoint([performance.now() + 10]);
    const { runner, transport } = await run(ep);
    await waitFor(() => runner.timerArmed);
    runner.close();
    expect(runner.timerArmed).toBe(false);
    expect(transport.closed).toBe(true);
    await Bun.sleep(20);
    expect(ep.calls.length).toBe(0);
  });

  test("waitIdle resolves once the endpoint has no deadline left; closeGracefully then closes", async () => {
    const ep = new TimerEndpoint([performance.now() + 5, performance.now() + 10]);
    const { runner, transport } = await run(ep);
    await runner.waitIdle(2000);
    expect(ep.calls.length).toBe(2);
    await runner.closeGracefully(2000);
    expect(transport.closed).toBe(true);
  });
});
