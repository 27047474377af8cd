import { describe, expect, test } from "bun:test";
import { ErrorCode, type Peer } from "@fastnet/core/protocol";
import { createPair, pluginContract } from "@fastnet/core/testing";
import { interestFilter, type InterestFilterOptions } from "./filter.ts";
import { InterestManager } from "./interest.ts";

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return (err as { code?: string }).code;
  }
  return undefined;
}

/** A manager in which observer 0 sees entity 0 (and nothing else exists). */
function seeingManager(): InterestManager {
  const m = new InterestManager({ enterRadius: 10 });
  m.addEntity(0, 0, 0);
  m.addObserver(0, 0, 0);
  m.update();
  return m;
}

// The contract's traffic is scoped to entity 0 on every channel, for peers attached to observer 0
// (which sees it): every message goes through the filter's lookup and must still arrive.
pluginContract(
  () => interestFilter({ manager: seeingManager(), channels: [0, 1, 2, 3], entityOf: () => 0, observerOf: () => 0 }),
  { name: "interest filter (core plugin contract)" },
);

function event(entity: number, tag: number): Uint8Array {
  return new Uint8Array([entity & 0xff, (entity >> 8) & 0xff, 0, 0, tag]);
}

describe("interest filter", () => {
  function setup(extra: Partial<InterestFilterOptions> = {}) {
    const manager = new InterestManager({ enterRadius: 50 });
    manager.addEntity(1, 10, 0); // near observer 0
    manager.addEntity(2, 500, 0); // near observer 1
    manager.addObserver(0, 0, 0);
    manager.addObserver(1, 500, 0);
    manager.update();
    const filter = interestFilter({ manager, channels: [0], ...extra });
    const pair = createPair({ seed: 3, link: { latencyMs: 5 }, server: { plugins: [filter] }, client: {} });
    return { manager, filter, pair };
  }

  test("entity-scoped events reach a client only for entities in its interest set", () => {
    const { filter, pair } = setup();
    filter.attach(pair.serverPeer, 0);
    expect(filter.observerOfPeer(pair.serverPeer)).toBe(0);
    expect(pair.server.send(pair.serverPeer, 0, event(1, 1))).toBeGreaterThan(0);
    expect(pair.server.send(pair.serverPeer, 0, event(2, 2))).toBe(0); // filtered: send returns 0
    pair.server.send(pair.serverPeer, 0, new Uint8Array([9])); // too short for an entity id: unscoped, passes
    pair.server.send(pair.serverPeer, 1, event(2, 3)); // channel not filtered
    pair.runFor(100);
    expect(pair.messages("client", 0).map((m) => m.at(-1))).toEqual([1, 9]);
    expect(pair.messages("client", 1).length).toBe(1);
    expect(filter.stats()).toEqual({ passed: 1, filtered: 1, unscoped: 1, unattached: 0 });
  });

  test("re-attaching a peer to another observer switches its filter", () => {
    const { filter, pair } = setup();
    filter.attach(pair.serverPeer, 0);
    filter.attach(pair.serverPeer, 1);
    pair.server.send(pair.serverPeer, 0, event(1, 1));
    pair.server.send(pair.serverPeer, 0, event(2, 2));
    pair.runFor(100);
    expect(pair.messages("client", 0).map((m) => m.at(-1))).toEqual([2]);
  });

  test("the filter follows the interest sets as they change", () => {
    const { manager, filter, pair } = setup();
    filter.attach(pair.serverPeer, 0);
    manager.moveEntity(2, 20, 0);
    pair.server.send(pair.serverPeer, 0, event(2, 1)); // not yet: sets change at update()
    manager.update();
    pair.server.send(pair.serverPeer, 0, event(2, 2));
    pair.runFor(100);
    expect(pair.messages("client", 0).map((m) => m.at(-1))).toEqual([2]);
  });

  test("peers with no observer: passed by default, dropped with unattached 'drop'", () => {
    const a = setup();
    a.pair.server.send(a.pair.serverPeer, 0, event(2, 1));
    a.pair.runFor(100);
    expect(a.pair.messages("client", 0).length).toBe(1);
    const b = setup({ unattached: "drop" });
    b.pair.server.send(b.pair.serverPeer, 0, event(2, 1));
    b.pair.runFor(100);
    expect(b.pair.messages("client", 0).length).toBe(0);
    expect(b.filter.stats().unattached).toBe(1);
  });

  test("observerOf attaches peers as they connect; detach stops filtering", () => {
    const { filter, pair } = setup({ observerOf: () => 1 });
    expect(filter.observerOfPeer(pair.serverPeer)).toBe(1);
    pair.server.send(pair.serverPeer, 0, event(1, 1));
    filter.detach(pair.serverPeer);
    pair.server.send(pair.serverPeer, 0, event(1, 2));
    pair.runFor(100);
    expect(pair.messages("client", 0).map((m) => m.at(-1))).toEqual([2]);
  });

  test("a custom entityOf decides what a message is about", () => {
    const { filter, pair } = setup({ entityOf: (_ch, d) => (d[0] === 0xee ? d[1]! : -1) });
    filter.attach(pair.serverPeer, 1);
    pair.server.send(pair.serverPeer, 0, new Uint8Array([0xee, 1, 7]));
    pair.server.send(pair.serverPeer, 0, new Uint8Array([0xee, 2, 8]));
    pair.server.send(pair.serverPeer, 0, new Uint8Array([0x00, 1, 9]));
    pair.runFor(100);
    expect(pair.messages("client", 0).map((m) => m.at(-1))).toEqual([8, 9]);
  });

  test.each<[string, () => unknown, string]>([
    ["no manager", () => interestFilter({} as InterestFilterOptions), ErrorCode.INVALID_CONFIG],
    ["a bad channel", () => interestFilter({ manager: seeingManager(), channels: [300] }), ErrorCode.INVALID_CONFIG],
    ["a bad unattached policy", () => interestFilter({ manager: seeingManager(), unattached: "keep" as "pass" }), ErrorCode.INVALID_CONFIG],
    ["a non-function entityOf", () => interestFilter({ manager: seeingManager(), entityOf: 1 as unknown as () => number }), ErrorCode.INVALID_CONFIG],
    ["attach before registration", () => interestFilter({ manager: seeingManager() }).attach({ slots: [] } as unknown as Peer, 0), ErrorCode.INVALID_CONFIG],
  ])("throws on %s", (_what, fn, code) => {
    expect(codeOf(fn)).toBe(code);
  });

  test("attach names a bad observer id", () => {
    const { filter, pair } = setup();
    expect(codeOf(() => filter.attach(pair.serverPeer, -2))).toBe(ErrorCode.INVALID_ARGUMENT);
  });
});
