/**
 * The bad-network relay process (this kernel has no netem): it sits between
 * client and server and adds a one-way delay and loss in each direction.
 *
 * UDP relay: every datagram, each direction independently, is dropped with
 * probability `loss` or delivered after exactly `delayMs` (FIFO, one timer).
 *
 * TCP proxy: a userspace proxy cannot drop a TCP segment (each hop is its own
 * loopback TCP connection, which never loses anything), so it emulates what
 * a loss does to a TCP byte stream: every chunk read (with TCP_NODELAY on
 * both hops and game-sized writes, one chunk = one segment) is "lost" with
 * probability `loss` and then arrives late by the time Linux TCP takes to
 * repair it, the smaller of
 *   - fast retransmit: three later segments must arrive to trigger three
 *     duplicate acks: 3 x (segment interval, an EWMA of arrivals) + RTT, and
 *   - tail loss probe: PTO = 2 x SRTT, then the retransmission's one-way trip
 *     (extra 2 x RTT when counted from the original send),
 * and a retransmission that is itself lost (probability `loss` again) adds a
 * retransmission timeout (200 ms, Linux's minimum, doubling). Every byte
 * behind a late chunk waits for it (in-order delivery: head-of-line
 * blocking). Not modelled: congestion window reduction after a loss (at game
 * rates of a few KB/s the window never binds), SACK details, delayed acks.
 */
import net from "node:net";
import { emit } from "./proc.ts";
import { mulberry32 } from "./stats.ts";

interface Held {
  at: number;
  send: () => void;
}

/** A FIFO of actions released at non-decreasing times, with one timer. */
class DelayLine {
  private readonly q: Held[] = [];
  private head = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;

  push(at: number, send: () => void): void {
    this.q.push({ at, send });
    if (this.timer === undefined) this.arm();
  }

  private arm(): void {
    const next = this.q[this.head];
    if (next === undefined) {
      this.q.length = 0;
      this.head = 0;
      return;
    }
    this.timer = setTimeout(() => {
      this.timer = undefined;
      const now = performance.now();
      while (this.head < this.q.length && this.q[this.head]!.at <= now + 0.2) this.q[this.head++]!.send();
      if (this.head > 1024) {
        this.q.splice(0, this.head);
        this.head = 0;
      }
      this.arm();
    }, Math.max(0, next.at - performance.now()));
  }
}

/** Extra delay of a chunk lost on a TCP path (see the file comment); 0 when not lost. */
export function tcpRepairDelayMs(rand: () => number, loss: number, rttMs: number, gapMs: number): number {
  if (!(rand() < loss)) return 0;
  const fast = 3 * gapMs + rttMs;
  const tlp = 2 * rttMs;
  let extra = Math.min(fast, tlp);
  let rto = Math.max(200, 2 * rttMs);
  while (rand() < loss) {
    extra += rto;
    rto *= 2;
  }
  return extra;
}

/** Worker: `relay udp|tcp <targetPort> <oneWayDelayMs> <lossPct> <seed>`; prints { port }. */
export async function relay(args: string[]): Promise<void> {
  const [kind, targetS, delayS, lossS, seedS] = args;
  const target = Number(targetS);
  const delay = Number(delayS);
  const loss = Number(lossS) / 100;
  const rand = mulberry32(Number(seedS ?? 1));
  if (kind === "udp") {
    let client: { port: number; host: string } | undefined;
    const up = new DelayLine();
    const down = new DelayLine();
    const socket = await Bun.udpSocket({
      hostname: "127.0.0.1",
      port: 0,
      socket: {
        data(s, data, port, host) {
          const fromServer = port === target && host === "127.0.0.1";
          if (!fromServer && (client === undefined || client.port !== port || client.host !== host)) client = { port, host };
          if (rand() < loss) return;
          const copy = data.slice();
          const to = fromServer ? client : { port: target, host: "127.0.0.1" };
          if (to === undefined) return;
          (fromServer ? down : up).push(performance.now() + delay, () => {
            try {
              s.send(copy, to.port, to.host);
            } catch {
              // dropped
            }
          });
        },
        error() {},
      },
    });
    emit({ port: socket.port });
    return;
  }
  if (kind !== "tcp") throw new Error(`relay: unknown kind ${kind}`);
  const server = net.createServer((downstream) => {
    downstream.setNoDelay(true);
    const upstream = net.connect(target, "127.0.0.1");
    upstream.setNoDelay(true);
    const pipe = (from: net.Socket, to: net.Socket): void => {
      const line = new DelayLine();
      let lastRelease = 0;
      let lastArrival = -1;
      let gap = 1000 / 60;
      from.on("data", (chunk: Buffer) => {
        const now = performance.now();
        if (lastArrival >= 0) gap = 0.875 * gap + 0.125 * (now - lastArrival);
        lastArrival = now;
        let at = now + delay + tcpRepairDelayMs(rand, loss, 2 * delay, gap);
        if (at < lastRelease) at = lastRelease; // in order: behind a late chunk, everything waits
        lastRelease = at;
        line.push(at, () => {
          if (!to.destroyed) to.write(chunk);
        });
      });
      from.on("close", () => to.destroy());
      from.on("error", () => to.destroy());
    };
    pipe(downstream, upstream);
    pipe(upstream, downstream);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  emit({ port: (server.address() as net.AddressInfo).port });
}
