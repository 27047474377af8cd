/**
 * @fastnet/interest with @fastnet/delta, end to end on the simulator: a
 * server with 400 moving entities and three clients, each following its own
 * avatar. Every tick the server updates the interest sets, gives entering
 * entities a slot in the client's view (ViewSlots), writes one snapshot per
 * client holding only that client's interest set, and sends it with delta;
 * entity-scoped events go to every peer through the interest filter, which
 * keeps each to the clients that see the entity.
 */
import { describe, expect, test } from "bun:test";
import { DeltaPlugin, SnapshotReader, SnapshotWriter } from "@fastnet/delta";
import { Endpoint, SeededRandom, type Peer } from "@fastnet/core/protocol";
import { Simulator } from "@fastnet/core/sim";
import { InterestFilter } from "./filter.ts";
import { InterestManager } from "./interest.ts";
import { ViewSlots } from "./slots.ts";

const ENTITIES = 400;
const CLIENTS = 3;
const WORLD = 600;
const STEP = 1 / 128;
/** Per slot: u32 entity id + 1 (0 = free slot), i32 x, i32 y (1/128 units), u16 health, u16 0. */
const RECORD = 16;
const EVENTS = 0;

interface Client {
  endpoint: Endpoint;
  delta: DeltaPlugin;
  serverPeer?: Peer;
  /** What the server sent this client, by tick. */
  sent: Map<number, Uint8Array>;
  /** The server's interest set for this client, by tick. */
  visible: Map<number, number[]>;
  slots: ViewSlots;
  delivered: number;
  mismatches: number;
  wrongSet: number;
  wrongState: number;
  entered: number;
  /** Events received, and events about entities this client could not see. */
  events: number;
  strayEvents: number;
  lastSeen: Set<number>;
  messageBytes: number;
  snapshotBytes: number;
}

function run(seed: number, link: { latencyMs: number; jitterMs: number; loss: number }, ticks: number) {
  const rng = new SeededRandom(seed);
  const sim = new Simulator({ seed, link });
  const manager = new InterestManager({ enterRadius: 80, leaveRadius: 100 });
  const serverDelta = new DeltaPlugin();
  const filter = new InterestFilter({ manager, channels: [EVENTS] });
  const server = new Endpoint({ random: new SeededRandom(seed + 1), insecurePlaintext: true, acceptConnections: true, plugins: [serverDelta, filter] });
  const SERVER = { host: "10.0.0.1", port: 4000 };
  sim.addNode(server, SERVER);
  const clients: Client[] = [];
  for (let i = 0; i < CLIENTS; i++) {
    const delta = new DeltaPlugin();
    const endpoint = new Endpoint({ random: new SeededRandom(seed + 10 + i), insecurePlaintext: true, plugins: [delta] });
    sim.addNode(endpoint, { host: `10.0.1.${i + 1}`, port: 5000 });
    endpoint.connect(sim.now, SERVER);
    clients.push({
      endpoint, delta, sent: new Map(), visible: new Map(), slots: new ViewSlots(), delivered: 0, mismatches: 0, wrongSet: 0, wrongState: 0,
      entered: 0, events: 0, strayEvents: 0, lastSeen: new Set(), messageBytes: 0, snapshotBytes: 0,
    });
  }
  const peers: Peer[] = [];
  sim.runUntil(() => {
    for (let e = server.pollEvent(); e !== undefined; e = server.pollEvent()) if (e.type === "connected") peers.push(e.peer);
    return peers.length === CLIENTS;
  }, { maxMs: 5000 });
  expect(peers.length).toBe(CLIENTS);
  // Peers connect in address order here; match them to clients by address.
  for (const p of peers) {
    const i = Number(p.address.host.split(".")[3]) - 1;
    clients[i]!.serverPeer = p;
    filter.attach(p, i);
  }

  // The world: entities wander; entity i < CLIENTS is client i's avatar, which its observer follows.
  const x = new Float64Array(ENTITIES);
  const y = new Float64Array(ENTITIES);
  const vx = new Float64Array(ENTITIES);
  const vy = new Float64Array(ENTITIES);
  const hp = new Uint16Array(ENTITIES).fill(100);
  for (let e = 0; e < ENTITIES; e++) {
    x[e] = e < CLIENTS ? 60 : rng.nextFloat() * WORLD;
    y[e] = e < CLIENTS ? 150 + 150 * e : rng.nextFloat() * WORLD;
    manager.addEntity(e, x[e]!, y[e]!);
  }
  for (let i = 0; i < CLIENTS; i++) manager.addObserver(i, x[i]!, y[i]!, 0, { follow: i });
  const history = new Map<number, { x: Float64Array; y: Float64Array; hp: Uint16Array }>();
  const writer = new SnapshotWriter(8192);
  const reader = new SnapshotReader();
  // Events the server sent about which entity, with the set of clients that could see it then.
  const eventSeen = new Map<number, boolean[]>();
  let eventId = 0;

  const checkSnapshot = (c: Client, tick: number, data: Uint8Array): void => {
    c.delivered++;
    const want = c.sent.get(tick);
    if (want === undefined || want.length !== data.length || want.some((b, k) => b !== data[k])) c.mismatches++;
    const world = history.get(tick)!;
    reader.reset(data);
    const slots = reader.u16();
    reader.u16();
    const ids: number[] = [];
    for (let s = 0; s < slots; s++) {
      const id = reader.u32() - 1;
      const qx = reader.i32();
      const qy = reader.i32();
      const h = reader.u16();
      reader.u16();
      if (id < 0) continue;
      ids.push(id);
      // Every entity's record is its full state at that tick, the tick it entered included.
      if (qx !== Math.round(world.x[id]! / STEP) || qy !== Math.round(world.y[id]! / STEP) || h !== world.hp[id]) c.wrongState++;
      if (c.delivered > 1 && !c.lastSeen.has(id)) c.entered++;
    }
    c.lastSeen = new Set(ids);
    const set = c.visible.get(tick)!;
    if (ids.length !== set.length || ids.some((id) => !set.includes(id))) c.wrongSet++;
  };

  for (let tick = 0; tick < ticks; tick++) {
    for (let e = 0; e < ENTITIES; e++) {
      if (e < CLIENTS) {
        // Avatars drive east across the world, so entities keep coming into and leaving their view.
        vx[e] = 15;
        vy[e] = 0;
      } else if (rng.nextInt(60) === 0) {
        const a = rng.nextFloat() * Math.PI * 2;
        const speed = rng.nextFloat() * 3;
        vx[e] = Math.cos(a) * speed;
        vy[e] = Math.sin(a) * speed;
      }
      x[e] = Math.min(WORLD, Math.max(0, x[e]! + vx[e]! / 60));
      y[e] = Math.min(WORLD, Math.max(0, y[e]! + vy[e]! / 60));
      if (rng.nextInt(600) === 0) hp[e] = Math.max(1, hp[e]! - 10);
      manager.moveEntity(e, x[e]!, y[e]!);
    }
    manager.update();
    history.set(tick, { x: x.slice(), y: y.slice(), hp: hp.slice() });
    history.delete(tick - 120);
    for (let i = 0; i < CLIENTS; i++) {
      const c = clients[i]!;
      c.slots.update(manager.entered(i), manager.left(i));
      c.visible.set(tick, Array.from(manager.visible(i)));
      c.visible.delete(tick - 120);
      writer.reset().u16(c.slots.slotCount).u16(0);
      for (let s = 0; s < c.slots.slotCount; s++) {
        const id = c.slots.entityAt(s);
        if (id < 0) writer.u32(0).i32(0).i32(0).u16(0).u16(0);
        else writer.u32(id + 1).i32(Math.round(x[id]! / STEP)).i32(Math.round(y[id]! / STEP)).u16(hp[id]!).u16(0);
      }
      const snap = writer.bytes();
      c.sent.set(tick, snap.slice());
      c.sent.delete(tick - 120);
      c.snapshotBytes += snap.length;
      c.messageBytes += serverDelta.sendSnapshot(c.serverPeer!, tick, snap);
    }
    // Every 10 ticks, an event about each of 20 entities goes to every peer; the filter keeps it to those who see it.
    if (tick % 10 === 0) {
      for (let k = 0; k < 20; k++) {
        const entity = rng.nextInt(ENTITIES);
        const id = eventId++;
        eventSeen.set(id, clients.map((_, i) => manager.isVisible(i, entity)));
        for (const c of clients) server.send(c.serverPeer!, EVENTS, new Uint8Array([entity & 0xff, entity >> 8, 0, 0, id & 0xff, id >> 8]), undefined, sim.now);
      }
    }
    sim.runFor(tick % 3 === 2 ? 16 : 17);
    for (let e = server.pollEvent(); e !== undefined; e = server.pollEvent());
    for (const c of clients) {
      for (let s = c.delta.pollSnapshot(); s !== undefined; s = c.delta.pollSnapshot()) checkSnapshot(c, s.tick, s.data);
      for (let e = c.endpoint.pollEvent(); e !== undefined; e = c.endpoint.pollEvent()) {
        if (e.type !== "message" || e.channel !== EVENTS) continue;
        c.events++;
        const id = e.data[4]! | (e.data[5]! << 8);
        if (!eventSeen.get(id)![clients.indexOf(c)]) c.strayEvents++;
      }
    }
  }
  const expectedEvents = clients.map((_, i) => [...eventSeen.values()].filter((v) => v[i]).length);
  return { clients, expectedEvents, filter, wholeWorldBytes: 4 + ENTITIES * RECORD };
}

describe("interest + delta on the simulator", () => {
  for (const seed of [1, 2]) {
    test(`each client's snapshot holds exactly its interest set, entering entities arrive with full state, byte-exact under 5% loss (seed ${seed})`, () => {
      const ticks = 600;
      const { clients, expectedEvents, filter, wholeWorldBytes } = run(seed, { latencyMs: 25, jitterMs: 5, loss: 0.05 }, ticks);
      clients.forEach((c, i) => {
        const why = `seed ${seed}, client ${i}: ${JSON.stringify({ ...c, sent: undefined, visible: undefined, slots: undefined, endpoint: undefined, delta: undefined, lastSeen: undefined, serverPeer: undefined })}`;
        expect(c.mismatches, why).toBe(0);
        expect(c.wrongSet, why).toBe(0);
        expect(c.wrongState, why).toBe(0);
        expect(c.delivered, why).toBeGreaterThan(ticks * 0.85);
        // Entities came into view over the run (the avatars move), each with its full state.
        expect(c.entered, why).toBeGreaterThan(15);
        // Interest: far smaller than the whole world; delta: a fraction of that again.
        expect(c.snapshotBytes / ticks, why).toBeLessThan(wholeWorldBytes / 4);
        expect(c.messageBytes / c.snapshotBytes, why).toBeLessThan(0.3);
        // Events: only about entities the client could see, and all of those (channel 0 is reliable).
        expect(c.strayEvents, why).toBe(0);
        expect(c.events, why).toBe(expectedEvents[i]!);
      });
      expect(filter.stats().filtered).toBeGreaterThan(0);
      // AOI_LOG=1 prints the figures quoted in the README.
      if (process.env.AOI_LOG) console.log(`seed ${seed}`, JSON.stringify({ wholeWorldBytesPerTick: wholeWorldBytes, filter: filter.stats(), clients: clients.map((c) => ({ entered: c.entered, snapshotBytesPerTick: Math.round(c.snapshotBytes / ticks), deltaBytesPerTick: Math.round(c.messageBytes / ticks), events: c.events })) }));
    });
  }
});
