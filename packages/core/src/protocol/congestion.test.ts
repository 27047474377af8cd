/**
 * Tests of the default congestion controller (congestion.ts): NewReno slow
 * start, one halving per recovery period, congestion avoidance, the minimum
 * window floor, collapse on a retransmission timeout, and the pacer (a burst
 * of up to 10 packets leaves at once, larger bursts are spread over the RTT).
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { NewReno } from "./congestion.ts";
import type { RttView } from "./rtt.ts";

const SEED = 0xcc;
const MTU = 1200;

function rtt(smoothed: number): RttView {
  return { smoothed, variance: smoothed / 2, min: smoothed, latest: smoothed, hasSample: true };
}

const R = rtt(100);

describe("NewReno window", () => {
  test("starts at 10 packets and grows by the acked bytes in slow start", () => {
    const cc = new NewReno({ mtu: MTU });
    expect(cc.window()).toBe(10 * MTU);
    for (let i = 1; i <= 5; i++) {
      cc.onPacketAcked(i, MTU, i - 1, R);
      expect(cc.window()).toBe((10 + i) * MTU);
    }
    cc.onPacketAcked(10, 300, 9, R);
    expect(cc.window()).toBe(15 * MTU + 300);
  });

  test("options set the initial and minimum windows", () => {
    const cc = new NewReno({ mtu: 1000, initialWindowPackets: 4, minWindowPackets: 3 });
    expect(cc.window()).toBe(4000);
    cc.onRetransmissionTimeout(1);
    expect(cc.window()).toBe(3000);
  });

  test("halves once per recovery period: losses of packets sent before it began do not count", () => {
    const cc = new NewReno({ mtu: MTU });
    cc.onPacketLost(100, MTU, 50);
    expect(cc.window()).toBe(5 * MTU);
    // Packets sent before t=100 belong to the same congestion event.
    cc.onPacketLost(101, MTU, 60);
    cc.onPacketLost(150, MTU, 100);
    expect(cc.window()).toBe(5 * MTU);
    // Nor do their acks grow the window.
    cc.onPacketAcked(160, MTU, 99, R);
    expect(cc.window()).toBe(5 * MTU);
    // A packet sent after recovery began starts a new period.
    cc.onPacketLost(200, MTU, 101);
    expect(cc.window()).toBe(Math.floor((5 * MTU) / 2));
  });

  test("congestion avoidance adds one MTU per window of acked bytes", () => {
    const cc = new NewReno({ mtu: MTU });
    cc.onPacketLost(10, MTU, 5);
    const w = cc.window();
    expect(w).toBe(6000);
    // 4 acks of 1200 = 4800 < 6000: no growth yet; the 5th reaches a full window.
    for (let i = 0; i < 4; i++) cc.onPacketAcked(20 + i, MTU, 11 + i, R);
    expect(cc.window()).toBe(w);
    cc.onPacketAcked(30, MTU, 15, R);
    expect(cc.window()).toBe(w + MTU);
  });

  test("never drops below the minimum window (2 packets)", () => {
    const cc = new NewReno({ mtu: MTU });
    for (let t = 1; t <= 20; t++) {
      cc.onPacketLost(t * 10, MTU, t * 10 - 1);
      expect(cc.window()).toBeGreaterThanOrEqual(2 * MTU);
    }
    expect(cc.window()).toBe(2 * MTU);
  });

  test("a retransmission timeout collapses the window to the minimum; slow start resumes up to half the old window", () => {
    const cc = new NewReno({ mtu: MTU });
    for (let i = 0; i < 10; i++) cc.onPacketAcked(i, MTU, i, R);
    expect(cc.window()).toBe(20 * MTU);
    cc.onRetransmissionTimeout(100);
    expect(cc.window()).toBe(2 * MTU);
    cc.onPacketAcked(110, MTU, 90, R);
    expect(cc.window()).toBe(2 * MTU);
    // Slow start until ssthresh = 10 packets, then congestion avoidance.
    for (let i = 0; i < 8; i++) cc.onPacketAcked(120 + i, MTU, 101 + i, R);
    expect(cc.window()).toBe(10 * MTU);
    cc.onPacketAcked(130, MTU, 110, R);
    expect(cc.window()).toBe(10 * MTU);
  });

  test("property: the window stays >= the minimum and only acks of packets sent after recovery grow it", () => {
    type Ev = { kind: "ack" | "loss" | "rto"; bytes: number; age: number };
    const ev = fc.record({
      kind: fc.constantFrom<Ev["kind"]>("ack", "ack", "ack", "loss", "rto"),
      bytes: fc.integer({ min: 1, max: MTU }),
      age: fc.integer({ min: 0, max: 300 }),
    });
    fc.assert(
      fc.property(fc.array(ev, { maxLength: 300, size: "max" }), (events) => {
        const cc = new NewReno({ mtu: MTU });
        let recoveryStart = -Infinity;
        let now = 1000;
        for (const e of events) {
          now += 1;
          const sentAt = now - e.age;
          const before = cc.window();
          if (e.kind === "ack") {
            cc.onPacketAcked(now, e.bytes, sentAt, R);
            if (sentAt <= recoveryStart) expect(cc.window()).toBe(before);
            else expect(cc.window()).toBeGreaterThanOrEqual(before);
          } else if (e.kind === "loss") {
            cc.onPacketLost(now, e.bytes, sentAt);
            if (sentAt <= recoveryStart) {
              expect(cc.window()).toBe(before);
            } else {
              expect(cc.window()).toBe(Math.max(2 * MTU, Math.floor(before / 2)));
              recoveryStart = now;
            }
          } else {
            cc.onRetransmissionTimeout(now);
            recoveryStart = now;
            expect(cc.window()).toBe(2 * MTU);
          }
          expect(cc.window()).toBeGreaterThanOrEqual(2 * MTU);
        }
      }),
      { seed: SEED, numRuns: 300 },
    );
  });
});

describe("NewReno pacer", () => {
  test.each([1, 2, 5, 10])("a burst of %p packets leaves at once", (n) => {
    const cc = new NewReno({ mtu: MTU });
    for (let i = 0; i < n; i++) {
      expect(cc.nextSendTime(500, MTU, R)).toBe(500);
      cc.onPacketSent(500, MTU);
    }
  });

  test("the 11th packet of a burst waits for tokens at gain * cwnd / srtt", () => {
    const cc = new NewReno({ mtu: MTU });
    for (let i = 0; i < 10; i++) cc.onPacketSent(500, MTU);
    expect(cc.nextSendTime(500, MTU, R)).toBeGreaterThan(500);
    const rate = (1.25 * 10 * MTU) / 100;
    expect(cc.nextSendTime(500, MTU, R)).toBeCloseTo(500 + MTU / rate, 9);
    // Once that time has passed, it may go.
    expect(cc.nextSendTime(500 + MTU / rate, MTU, R)).toBe(500 + MTU / rate);
  });

  test("tokens refill over time but never above the burst size", () => {
    const cc = new NewReno({ mtu: MTU });
    cc.nextSendTime(0, MTU, R);
    for (let i = 0; i < 10; i++) cc.onPacketSent(0, MTU);
    // A long idle period refills at most 10 packets' worth.
    expect(cc.nextSendTime(1_000_000, MTU, R)).toBe(1_000_000);
    for (let i = 0; i < 10; i++) cc.onPacketSent(1_000_000, MTU);
    expect(cc.nextSendTime(1_000_000, MTU, R)).toBeGreaterThan(1_000_000);
  });

  test("property: bursts of <= 10 packets are never delayed; larger bursts are", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.double({ min: 0.5, max: 1000, noNaN: true }), fc.integer({ min: 0, max: 1e6 }), (n, srtt, now) => {
        const cc = new NewReno({ mtu: MTU });
        const view = rtt(srtt);
        let delayed = 0;
        for (let i = 0; i < n; i++) {
          const t = cc.nextSendTime(now, MTU, view);
          if (t > now) delayed++;
          cc.onPacketSent(now, MTU);
        }
        expect(delayed).toBe(Math.max(0, n - 10));
      }),
      { seed: SEED + 1, numRuns: 500 },
    );
  });
});

test("slow start and congestion avoidance never grow the window past maxWindowBytes", () => {
  const cc = new NewReno({ mtu: 1200, maxWindowBytes: 50_000 });
  const rtt = { smoothed: 10, variance: 5, min: 10, latest: 10, hasSample: true };
  for (let i = 0; i < 1000; i++) cc.onPacketAcked(i, 1200, i, rtt);
  expect(cc.window()).toBe(50_000);
});
