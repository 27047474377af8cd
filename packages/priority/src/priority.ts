/**
 * The priority plugin (message layer + the core's scheduler slot).
 *
 * Core's scheduler slot only chooses which CHANNEL's queue the next message
 * of a packet comes from. Per-message priority, weighted sharing across
 * classes and supersession need to see messages, so this plugin holds them:
 *
 * - outgoingMessage captures every message on a managed channel (returns null,
 *   so the core queues nothing) into per-peer queues: one per class and
 *   channel. `prio.send(endpoint, peer, channel, data, { priority, key, version })`
 *   passes per-message options; plain `endpoint.send` uses the channel's
 *   default class.
 * - At each tick it releases messages to the core (ctx.send) within the peer's
 *   send budget (congestion window minus bytes in flight minus what the core
 *   still holds, plus one packet of slack): strict classes (critical) first
 *   and regardless of the budget; then weighted fair sharing by bytes among
 *   the other classes (self-clocked fair queueing), and among channels within a
 *   class. When strict traffic leaves no budget, a message that has waited
 *   starvationMs still goes, one per flush, so nothing waits forever.
 * - A message with a `key` replaces the queued, unsent message of the same
 *   key on its channel (unreliable and sequenced channels): the newest state
 *   wins, in the old one's place, and a `version` older than the queued one
 *   is dropped.
 * - Its scheduler (the core's slot) sends channels that just received a
 *   critical message first, then the others by smooth weighted round robin of
 *   their default classes (for what the application sends on unmanaged
 *   channels).
 *
 * Register it after the other message-layer plugins (delta, interest,
 * jitter): it releases with ctx.send, which skips outgoingMessage hooks, so a
 * plugin registered after it would never see the messages it holds.
 */
import {
  ErrorCode, FastnetError, type Peer, type Plugin, type PluginContext, RingQueue, type Scheduler, type SendOptions,
} from "@fastnet/core/protocol";
import { FairQueue } from "./fair.ts";
import { type PriorityOptions, type ResolvedPriorityOptions, resolvePriorityOptions } from "./options.ts";

/** Per-message options of `prio.send`. */
export interface PrioritySendOptions {
  /** Class name; default: the channel's class. */
  priority?: string;
  /** Unreliable and sequenced channels: a newer message with the same key replaces a queued, unsent one. */
  key?: string | number;
  /** With `key`: a message whose version is lower than the queued one's is dropped (send returns 0). */
  version?: number;
  /** As the core's: a reliable message is abandoned after this; an unreliable one dropped if still unsent. */
  expiresInMs?: number;
}

/** Anything with the endpoint's send signature (Endpoint, Server, or a client's peer-bound wrapper). */
export interface MessageSender {
  send(peer: Peer, channel: number, data: Uint8Array, options?: SendOptions): number;
}

export interface ClassStats {
  queuedMessages: number;
  queuedBytes: number;
  /** Released to the core. */
  sentMessages: number;
  sentBytes: number;
}

export interface PriorityStats {
  queuedMessages: number;
  queuedBytes: number;
  byClass: Record<string, ClassStats>;
  /** Queued messages replaced by a newer one with the same key. */
  superseded: number;
  /** Messages dropped because a newer version with the same key was already queued. */
  stale: number;
  /** Held past their expiry (or unreliableTtlMs) and dropped. */
  expired: number;
  /** Released without budget because strict traffic had left none to weighted classes for starvationMs. */
  promoted: number;
  /** Refused by the core at release (e.g. larger than its maxMessageSize): dropped. */
  rejected: number;
}

export interface PriorityPlugin extends Plugin {
  readonly name: "priority";
  readonly scheduler: Scheduler;
  readonly options: Readonly<ResolvedPriorityOptions>;
  /**
   * Sends through `endpoint.send` (so every outgoingMessage hook runs) with per-message options.
   * Returns a handle > 0, or 0 when the message was dropped as an older version. On a channel
   * priority does not manage, returns what endpoint.send returned. Throws FASTNET_INVALID_ARGUMENT
   * on bad options and FASTNET_WINDOW_FULL when maxQueuedBytes are already held for the peer.
   */
  send(endpoint: MessageSender, peer: Peer, channel: number, data: Uint8Array, options?: PrioritySendOptions): number;
  /**
   * Releases what the budget allows now (for one peer, or all), instead of at the next tick. With
   * `{ all: true }`, releases everything held, whatever the budget: call it before a graceful
   * `disconnect(peer)`, whose linger only waits for what the core holds.
   */
  flush(peer?: Peer, options?: { all?: boolean }): void;
  stats(peer: Peer): PriorityStats | undefined;
}

class Entry {
  dead = false;
  constructor(
    readonly id: number,
    readonly channel: number,
    readonly cls: number,
    public data: Uint8Array,
    readonly enqueuedAt: number,
    public expiresAt: number,
    readonly key: string | number | undefined,
    public version: number,
    /** The application gave an expiry (passed on to the core at release). */
    readonly explicitExpiry: boolean,
  ) {}
}

class ClassQueues {
  /** One FIFO per managed channel (index = position in the managed list). */
  readonly queues: RingQueue<Entry>[];
  /** Live entries. */
  count = 0;
  bytes = 0;
  sentMessages = 0;
  sentBytes = 0;
  /** Fair sharing among the class's channels. */
  readonly fair: FairQueue;
  constructor(channels: number, weights: Float64Array) {
    this.queues = Array.from({ length: channels }, () => new RingQueue<Entry>());
    this.fair = new FairQueue(weights);
  }
}

class PeerPriority {
  readonly classes: ClassQueues[];
  /** Fair sharing among the weighted classes. */
  readonly outer: FairQueue;
  readonly keys: (Map<string | number, Entry> | undefined)[] = [];
  queuedBytes = 0;
  queuedCount = 0;
  readonly boost: Uint8Array;
  boostCount = 0;
  /** Smooth weighted round robin state of the scheduler, per channel. */
  readonly current: Float64Array;
  /** Picks in a row that passed over a channel with data. */
  readonly skipped = new Uint16Array(256);
  inPending = false;
  dead = false;
  now = 0;
  superseded = 0;
  stale = 0;
  expired = 0;
  promoted = 0;
  rejected = 0;
  /** Last time a weighted-class message was released within the budget (or the weighted backlog started). */
  lastLooseAt = 0;
  /** Live entries in weighted classes. */
  looseCount = 0;
  /** FairQueue callbacks, made once per peer. */
  readonly classBacklogged: (c: number) => boolean;
  readonly channelBacklogged: ((i: number) => boolean)[];

  /** strict[c]: class c is strict. */
  readonly strict: boolean[];

  constructor(readonly peer: Peer, o: ResolvedPriorityOptions, managed: number[], looseWeights: Float64Array, channelWeights: Float64Array[], private readonly loose: number[]) {
    this.strict = o.classes.map((c) => c.strict);
    this.classes = o.classes.map((_, c) => new ClassQueues(managed.length, channelWeights[c]!));
    this.outer = new FairQueue(looseWeights);
    this.boost = new Uint8Array(256);
    this.current = new Float64Array(256);
    this.classBacklogged = (c) => this.classes[this.loose[c]!]!.count > 0;
    this.channelBacklogged = this.classes.map((cq) => (i: number) => this.head(cq, i) !== undefined);
  }

  /** The live head of a class's channel queue, dropping dead and expired entries on the way. */
  head(cq: ClassQueues, i: number): Entry | undefined {
    const q = cq.queues[i]!;
    for (let e = q.peek(); e !== undefined; e = q.peek()) {
      if (e.dead) {
        q.shift();
        continue;
      }
      if (this.now >= e.expiresAt) {
        q.shift();
        this.remove(cq, e);
        this.expired++;
        continue;
      }
      return e;
    }
    return undefined;
  }

  /** Forgets a live entry (released, expired or replaced). */
  remove(cq: ClassQueues, e: Entry): void {
    e.dead = true;
    if (!this.strict[e.cls]) this.looseCount--;
    cq.count--;
    cq.bytes -= e.data.length;
    this.queuedCount--;
    this.queuedBytes -= e.data.length;
    if (e.key !== undefined) {
      const map = this.keys[e.channel];
      if (map !== undefined && map.get(e.key) === e) map.delete(e.key);
    }
  }
}

const releaseOptions: { expiresInMs?: number } = {};
/** The scheduler takes a channel that was passed over this many picks in a row, whatever its class. */
const MAX_SKIPS = 64;

/**
 * Creates the priority plugin. Register it on the sending side (both sides if both send); it adds
 * nothing on the wire. Throws FASTNET_INVALID_CONFIG on bad options.
 */
export function priority(options?: PriorityOptions): PriorityPlugin {
  const o = resolvePriorityOptions(options);
  const nClasses = o.classes.length;
  const strictCount = o.classes.filter((c) => c.strict).length;
  const loose = o.classes.map((_, i) => i).filter((i) => !o.classes[i]!.strict);
  const looseWeights = Float64Array.from(loose.map((i) => o.classes[i]!.weight));
  let slot = -1;
  let ctxRef: PluginContext | undefined;
  /** Managed channel list and channel -> index in it (-1 = not managed). */
  let managed: number[] = [];
  const managedIndex = new Int16Array(256).fill(-1);
  let channelWeights: Float64Array[] = [];
  /** Scheduler weights per channel (class weight x channel weight) and strictness. */
  const pickWeight = new Float64Array(256);
  const pickStrict = new Uint8Array(256);
  const fallbackCurrent = new Float64Array(256);
  const fallbackSkipped = new Uint16Array(256);
  let nChannels = 0;
  let nextId = 1;
  const pending: PeerPriority[] = [];
  let deadline = Infinity;
  // Per-message options of the prio.send call in progress (read by outgoingMessage).
  let sendOptions: PrioritySendOptions | undefined;
  let lastHandle: number | undefined;

  function stateOf(peer: Peer): PeerPriority {
    let st = peer.slots[slot] as PeerPriority | undefined;
    if (st === undefined) {
      st = new PeerPriority(peer, o, managed, looseWeights, channelWeights, loose);
      peer.slots[slot] = st;
    }
    return st;
  }

  function markPending(st: PeerPriority, now: number): void {
    if (!st.inPending) {
      st.inPending = true;
      pending.push(st);
    }
    if (now < deadline) deadline = now;
  }

  function coreQueued(peer: Peer): number {
    return peer.stats().queuedBytes;
  }

  /** Hands one entry to the core. Returns false when the core is full (keep the rest for later). */
  function release(st: PeerPriority, cq: ClassQueues, e: Entry, ctx: PluginContext): boolean {
    let opts: SendOptions | undefined;
    if (e.explicitExpiry || e.expiresAt !== Infinity) {
      releaseOptions.expiresInMs = Math.max(0, e.expiresAt - st.now);
      opts = releaseOptions;
    }
    try {
      ctx.send(st.peer, e.channel, e.data, opts);
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      if (code === ErrorCode.WINDOW_FULL || code === ErrorCode.NOT_CONNECTED) return false;
      // Anything else (too large for the core, ...) will never go: drop it.
      cq.queues[managedIndex[e.channel]!]!.shift();
      st.remove(cq, e);
      st.rejected++;
      return true;
    }
    cq.queues[managedIndex[e.channel]!]!.shift();
    st.remove(cq, e);
    cq.sentMessages++;
    cq.sentBytes += e.data.length;
    if (e.cls < strictCount && st.boost[e.channel] === 0) {
      st.boost[e.channel] = 1;
      st.boostCount++;
    }
    return true;
  }

  function flushPeer(st: PeerPriority, now: number, ctx: PluginContext, all = false): void {
    const peer = st.peer;
    if (peer.state !== "connected" && peer.state !== "disconnecting") return;
    st.now = now;
    // 1. Strict classes: everything, in class order, channels by their weights.
    for (let c = 0; c < strictCount; c++) {
      const cq = st.classes[c]!;
      while (cq.count > 0) {
        const i = cq.fair.pick(st.channelBacklogged[c]!);
        if (i < 0) break;
        const e = st.head(cq, i)!;
        cq.fair.charge(i, e.data.length);
        if (!release(st, cq, e, ctx)) return;
      }
    }
    if (st.queuedCount === 0) return;
    let allowance = all ? Infinity : peer.sendBudget - coreQueued(peer) + ctx.mtu;
    if (allowance <= 0) {
      // 2. No budget left. Weighted classes never starve among themselves (each gets its share of
      // the budget), but strict traffic could take all of it: once no weighted message has gone for
      // starvationMs, one goes per flush anyway, in weighted order.
      if (now - st.lastLooseAt >= o.starvationMs) {
        const k = st.outer.pick(st.classBacklogged);
        const c = k < 0 ? -1 : loose[k]!;
        const i = c < 0 ? -1 : st.classes[c]!.fair.pick(st.channelBacklogged[c]!);
        if (i >= 0) {
          const cq = st.classes[c]!;
          const e = st.head(cq, i)!;
          const bytes = e.data.length;
          if (release(st, cq, e, ctx)) {
            st.outer.charge(k, bytes);
            cq.fair.charge(i, bytes);
            st.promoted++;
          }
        }
      }
      return;
    }
    // 3. Weighted fair sharing among the other classes, then among channels within a class.
    for (let guard = st.queuedCount + nClasses; allowance > 0 && st.queuedCount > 0 && guard > 0; guard--) {
      const k = st.outer.pick(st.classBacklogged);
      if (k < 0) break;
      const c = loose[k]!;
      const cq = st.classes[c]!;
      const i = cq.fair.pick(st.channelBacklogged[c]!);
      if (i < 0) continue; // only dead or expired entries were left: count is now 0
      const e = st.head(cq, i)!;
      const bytes = e.data.length;
      if (!release(st, cq, e, ctx)) return;
      st.outer.charge(k, bytes);
      cq.fair.charge(i, bytes);
      st.lastLooseAt = now;
      allowance -= bytes;
    }
  }

  function flushAll(now: number, ctx: PluginContext, all = false): void {
    for (let i = 0; i < pending.length; i++) {
      const st = pending[i]!;
      if (!st.dead) flushPeer(st, now, ctx, all);
      if (st.dead || st.queuedCount === 0) {
        st.inPending = false;
        pending[i] = pending[pending.length - 1]!;
        pending.pop();
        i--;
      }
    }
  }

  const scheduler: Scheduler = {
    name: "priority",
    pick(peer, queued) {
      const n = queued.length;
      const st = peer.slots[slot] as PeerPriority | undefined;
      const skipped = st !== undefined ? st.skipped : fallbackSkipped;
      const chosen = choose(st, queued, n, skipped);
      // Anti-starvation inside the core: a channel passed over MAX_SKIPS times in a row goes next.
      for (let c = 0; c < n; c++) if (queued[c]! > 0) skipped[c] = c === chosen ? 0 : skipped[c]! + 1;
      return chosen;
    },
  };

  function choose(st: PeerPriority | undefined, queued: ArrayLike<number>, n: number, skipped: Uint16Array): number {
    for (let c = 0; c < n; c++) if (skipped[c]! >= MAX_SKIPS && queued[c]! > 0) return c;
    if (st !== undefined && st.boostCount > 0) {
      // Channels a critical message was just released on go first, until the core's queue of them drains.
      for (let c = 0; c < n; c++) {
        if (st.boost[c] === 0) continue;
        if (queued[c]! > 0) return c;
        st.boost[c] = 0;
        st.boostCount--;
      }
    }
    for (let c = 0; c < n; c++) if (pickStrict[c] === 1 && queued[c]! > 0) return c;
    // Smooth weighted round robin over the channels with data, by their default class.
    const current = st !== undefined ? st.current : fallbackCurrent;
    let best = -1;
    let total = 0;
    for (let c = 0; c < n; c++) {
      if (queued[c]! <= 0) continue;
      current[c] = current[c]! + pickWeight[c]!;
      total += pickWeight[c]!;
      if (best < 0 || current[c]! > current[best]!) best = c;
    }
    if (best >= 0) current[best] = current[best]! - total;
    return best;
  }

  const plugin: PriorityPlugin = {
    name: "priority",
    scheduler,
    options: o,

    init(ctx) {
      slot = ctx.slot;
      ctxRef = ctx;
      for (let c = 0; c < 256; c++) {
        if (ctx.channelKind(c) === undefined) break;
        nChannels = c + 1;
      }
      managed = o.channels === null ? Array.from({ length: nChannels }, (_, c) => c) : o.channels.filter((c) => c < nChannels);
      if (o.channels !== null && managed.length !== o.channels.length) {
        throw new FastnetError(ErrorCode.INVALID_CONFIG, `priority: option 'channels' names channels the endpoint does not have (it has ${nChannels})`);
      }
      managed.forEach((c, i) => (managedIndex[c] = i));
      channelWeights = o.classes.map(() => Float64Array.from(managed.map((c) => o.channelWeight[c]!)));
      for (let c = 0; c < nChannels; c++) {
        const cls = o.classes[o.channelClass[c]!]!;
        pickStrict[c] = cls.strict ? 1 : 0;
        pickWeight[c] = cls.weight * o.channelWeight[c]!;
      }
      nChannels = managed.length === 0 ? 0 : managed.length;
    },

    send(endpoint, peer, channel, data, options) {
      if (options !== undefined) validateSendOptions(options, channel);
      sendOptions = options ?? EMPTY_OPTIONS;
      lastHandle = undefined;
      try {
        const id = endpoint.send(peer, channel, data, options?.expiresInMs !== undefined ? { expiresInMs: options.expiresInMs } : undefined);
        return lastHandle ?? id;
      } finally {
        sendOptions = undefined;
        lastHandle = undefined;
      }
    },

    flush(peer, options) {
      const ctx = ctxRef;
      if (ctx === undefined) return;
      const all = options?.all === true;
      if (peer === undefined) flushAll(ctx.now, ctx, all);
      else {
        const st = peer.slots[slot] as PeerPriority | undefined;
        if (st !== undefined && !st.dead) flushPeer(st, ctx.now, ctx, all);
      }
    },

    outgoingMessage(peer, channel, data, ctx) {
      const idx = managedIndex[channel]!;
      if (idx < 0) return data;
      const so = sendOptions;
      sendOptions = undefined; // one message per prio.send
      const st = stateOf(peer);
      const now = ctx.now;
      const cls = so?.priority !== undefined ? classIndex(so.priority) : o.channelClass[channel]!;
      const kind = ctx.channelKind(channel);
      const unreliable = kind === "unreliable" || kind === "sequenced";
      let expiresAt = so?.expiresInMs !== undefined ? now + so.expiresInMs : Infinity;
      if (unreliable) expiresAt = Math.min(expiresAt, now + o.unreliableTtlMs);
      const key = so?.key;
      const version = so?.version ?? 0;
      if (key !== undefined) {
        let map = st.keys[channel];
        if (map === undefined) {
          map = new Map();
          st.keys[channel] = map;
        }
        const old = map.get(key);
        if (old !== undefined && !old.dead) {
          if (so?.version !== undefined && version < old.version) {
            st.stale++;
            lastHandle = 0;
            return null;
          }
          st.superseded++;
          if (old.cls === cls) {
            // The newest state takes the old one's place in the queue.
            const cq = st.classes[cls]!;
            checkRoom(st, data.length - old.data.length);
            cq.bytes += data.length - old.data.length;
            st.queuedBytes += data.length - old.data.length;
            old.data = data.slice();
            old.version = version;
            old.expiresAt = expiresAt;
            lastHandle = old.id;
            markPending(st, now);
            return null;
          }
          st.remove(st.classes[old.cls]!, old);
        }
      }
      checkRoom(st, data.length);
      const e = new Entry(nextId, channel, cls, data.slice(), now, expiresAt, key, version, so?.expiresInMs !== undefined);
      nextId = nextId + 1 > 0x7fffffff ? 1 : nextId + 1;
      const cq = st.classes[cls]!;
      if (cls >= strictCount && st.looseCount++ === 0) st.lastLooseAt = now;
      cq.queues[idx]!.push(e);
      cq.count++;
      cq.bytes += data.length;
      st.queuedCount++;
      st.queuedBytes += data.length;
      if (key !== undefined) st.keys[channel]!.set(key, e);
      lastHandle = e.id;
      markPending(st, now);
      return null;
    },

    onMessageAcked(peer, _channel, _id, ctx) {
      const st = peer.slots[slot] as PeerPriority | undefined;
      if (st !== undefined && st.queuedCount > 0) markPending(st, ctx.now);
    },

    onMessageLost(peer, _channel, _id, ctx) {
      const st = peer.slots[slot] as PeerPriority | undefined;
      if (st !== undefined && st.queuedCount > 0) markPending(st, ctx.now);
    },

    onTick(now, ctx) {
      if (now < deadline) return;
      flushAll(now, ctx);
      deadline = pending.length > 0 ? now + o.retryMs : Infinity;
    },

    nextDeadline() {
      return deadline;
    },

    onDisconnected(peer) {
      const st = peer.slots[slot] as PeerPriority | undefined;
      if (st !== undefined) st.dead = true;
      peer.slots[slot] = undefined;
    },

    stats(peer) {
      const st = peer.slots[slot] as PeerPriority | undefined;
      if (st === undefined) return undefined;
      const byClass: Record<string, ClassStats> = {};
      o.classes.forEach((c, i) => {
        const cq = st.classes[i]!;
        byClass[c.name] = { queuedMessages: cq.count, queuedBytes: cq.bytes, sentMessages: cq.sentMessages, sentBytes: cq.sentBytes };
      });
      return {
        queuedMessages: st.queuedCount, queuedBytes: st.queuedBytes, byClass, superseded: st.superseded, stale: st.stale,
        expired: st.expired, promoted: st.promoted, rejected: st.rejected,
      };
    },
  };

  function classIndex(name: string): number {
    for (let i = 0; i < nClasses; i++) if (o.classes[i]!.name === name) return i;
    return -1;
  }

  function checkRoom(st: PeerPriority, extra: number): void {
    if (extra > 0 && st.queuedBytes + extra > o.maxQueuedBytes && st.queuedCount > 0) {
      throw new FastnetError(ErrorCode.WINDOW_FULL, `priority: peer ${st.peer.id} already has ${st.queuedBytes} bytes queued (maxQueuedBytes ${o.maxQueuedBytes}); send less or raise it`);
    }
  }

  function validateSendOptions(so: PrioritySendOptions, channel: number): void {
    if (typeof so !== "object" || so === null) throw argError("options", "an object", so);
    if (so.priority !== undefined && classIndex(so.priority) < 0) {
      throw argError("options.priority", `one of the class names (${o.classes.map((c) => c.name).join(", ")})`, so.priority);
    }
    if (so.key !== undefined) {
      if (typeof so.key !== "string" && typeof so.key !== "number") throw argError("options.key", "a string or a number", so.key);
      const kind = ctxRef?.channelKind(channel);
      if (kind === "reliable-ordered" || kind === "reliable-unordered") {
        throw argError("options.key", "used on unreliable or sequenced channels only (a reliable message is never dropped)", so.key);
      }
    }
    if (so.version !== undefined && (typeof so.version !== "number" || !Number.isFinite(so.version))) throw argError("options.version", "a finite number", so.version);
    if (so.expiresInMs !== undefined && (typeof so.expiresInMs !== "number" || !(so.expiresInMs >= 0))) throw argError("options.expiresInMs", "a number >= 0", so.expiresInMs);
  }

  return plugin;
}

const EMPTY_OPTIONS: PrioritySendOptions = Object.freeze({});

function argError(arg: string, expected: string, got: unknown): FastnetError {
  const shown = typeof got === "string" ? JSON.stringify(got) : typeof got === "number" || typeof got === "boolean" || got == null ? String(got) : typeof got;
  return new FastnetError(ErrorCode.INVALID_ARGUMENT, `priority: argument '${arg}' must be ${expected}, got ${shown}`);
}
