/**
 * The plugin part of @fastnet/interest: per-client filtering of what the
 * server sends. Messages on the configured channels that concern one entity
 * (the application says which, with `entityOf`) are dropped for a peer whose
 * observer does not have that entity in its interest set, so the game can
 * send an event to every peer and let the filter keep it to those who can
 * see it. Messages on other channels, and messages `entityOf` does not tie
 * to an entity, pass untouched.
 *
 * Snapshots are filtered differently: build each client's snapshot from its
 * interest set (see ViewSlots) and send it with @fastnet/delta.
 */
import { ErrorCode, FastnetError, type Peer, type Plugin, type PluginContext } from "@fastnet/core/protocol";
import type { InterestManager } from "./interest.ts";

export interface InterestFilterOptions {
  /** The manager whose sets decide. */
  manager: InterestManager;
  /** Channels carrying entity-scoped messages. Default [] (nothing filtered). */
  channels?: number[];
  /**
   * The entity a message on a filtered channel is about, or -1 when it concerns no single
   * entity (it then passes). Default: a u32 little-endian entity id in the first 4 bytes.
   * Runs on every send on those channels: keep it cheap, never throw.
   */
  entityOf?: (channel: number, data: Uint8Array) => number;
  /** Observer of a peer that just connected (or undefined: attach later). Default none. */
  observerOf?: (peer: Peer) => number | undefined;
  /** What to do with entity-scoped messages to a peer with no observer attached. Default "pass". */
  unattached?: "pass" | "drop";
  /** Plugin name. Default "interest". */
  name?: string;
}

export interface InterestFilterStats {
  /** Entity-scoped messages sent (the entity was in the peer's set). */
  passed: number;
  /** Entity-scoped messages dropped (it was not). */
  filtered: number;
  /** Messages on a filtered channel that `entityOf` tied to no entity. */
  unscoped: number;
  /** Entity-scoped messages to peers with no observer (passed or dropped per `unattached`). */
  unattached: number;
}

function defaultEntityOf(_channel: number, data: Uint8Array): number {
  return data.length >= 4 ? (data[0]! | (data[1]! << 8) | (data[2]! << 16) | (data[3]! << 24)) >>> 0 : -1;
}

/** Per-peer state: the observer id. */
class Attachment {
  constructor(public observer: number) {}
}

export class InterestFilter implements Plugin {
  readonly name: string;
  readonly manager: InterestManager;
  private readonly filtered: Uint8Array;
  private readonly entityOf: (channel: number, data: Uint8Array) => number;
  private readonly observerOf: ((peer: Peer) => number | undefined) | undefined;
  private readonly dropUnattached: boolean;
  private slot = -1;
  private readonly s: InterestFilterStats = { passed: 0, filtered: 0, unscoped: 0, unattached: 0 };

  constructor(options: InterestFilterOptions) {
    if (options === null || typeof options !== "object") throw new FastnetError(ErrorCode.INVALID_CONFIG, `interest filter options must be an object, got ${String(options)}`);
    const m = options.manager as Partial<InterestManager> | undefined;
    if (m === null || typeof m !== "object" || typeof m.isVisible !== "function") {
      throw new FastnetError(ErrorCode.INVALID_CONFIG, "option 'manager' must be an InterestManager");
    }
    this.manager = options.manager;
    this.filtered = new Uint8Array(256);
    for (const ch of options.channels ?? []) {
      if (!Number.isInteger(ch) || ch < 0 || ch > 254) throw new FastnetError(ErrorCode.INVALID_CONFIG, `option 'channels' must hold channel indexes in [0, 254], got ${String(ch)}`);
      this.filtered[ch] = 1;
    }
    if (options.entityOf !== undefined && typeof options.entityOf !== "function") throw new FastnetError(ErrorCode.INVALID_CONFIG, "option 'entityOf' must be a function");
    if (options.observerOf !== undefined && typeof options.observerOf !== "function") throw new FastnetError(ErrorCode.INVALID_CONFIG, "option 'observerOf' must be a function");
    const un = options.unattached ?? "pass";
    if (un !== "pass" && un !== "drop") throw new FastnetError(ErrorCode.INVALID_CONFIG, `option 'unattached' must be "pass" or "drop", got ${String(un)}`);
    if (options.name !== undefined && (typeof options.name !== "string" || options.name.length === 0)) {
      throw new FastnetError(ErrorCode.INVALID_CONFIG, "option 'name' must be a non-empty string");
    }
    this.name = options.name ?? "interest";
    this.entityOf = options.entityOf ?? defaultEntityOf;
    this.observerOf = options.observerOf;
    this.dropUnattached = un === "drop";
  }

  /** Ties `peer` to observer `observer` of the manager: its entity-scoped messages follow that observer's set. */
  attach(peer: Peer, observer: number): void {
    if (this.slot < 0) throw new FastnetError(ErrorCode.INVALID_CONFIG, `plugin '${this.name}' is not registered on an endpoint`);
    if (peer === null || typeof peer !== "object" || !Array.isArray(peer.slots)) throw new FastnetError(ErrorCode.INVALID_ARGUMENT, "argument 'peer' must be a peer");
    if (!Number.isInteger(observer) || observer < 0) throw new FastnetError(ErrorCode.INVALID_ARGUMENT, `argument 'observer' must be a non-negative integer, got ${String(observer)}`);
    const a = peer.slots[this.slot] as Attachment | undefined;
    if (a !== undefined) a.observer = observer;
    else peer.slots[this.slot] = new Attachment(observer);
  }

  detach(peer: Peer): void {
    if (this.slot >= 0) peer.slots[this.slot] = undefined;
  }

  /** Observer attached to `peer`, or undefined. */
  observerOfPeer(peer: Peer): number | undefined {
    return this.slot < 0 ? undefined : (peer.slots[this.slot] as Attachment | undefined)?.observer;
  }

  stats(): InterestFilterStats {
    return { ...this.s };
  }

  // ---- Hooks ----

  init(ctx: PluginContext): void {
    this.slot = ctx.slot;
  }

  outgoingMessage(peer: Peer, channel: number, data: Uint8Array, ctx: PluginContext): Uint8Array | null {
    if (this.filtered[channel] !== 1) return data;
    const entity = this.entityOf(channel, data);
    if (!(entity >= 0)) {
      this.s.unscoped++;
      return data;
    }
    const a = peer.slots[ctx.slot] as Attachment | undefined;
    if (a === undefined) {
      this.s.unattached++;
      return this.dropUnattached ? null : data;
    }
    if (this.manager.isVisible(a.observer, entity)) {
      this.s.passed++;
      return data;
    }
    this.s.filtered++;
    return null;
  }

  onConnected(peer: Peer, ctx: PluginContext): void {
    if (this.observerOf === undefined) return;
    const o = this.observerOf(peer);
    if (o !== undefined && Number.isInteger(o) && o >= 0) peer.slots[ctx.slot] = new Attachment(o);
  }

  onDisconnected(peer: Peer, _reason: unknown, ctx: PluginContext): void {
    peer.slots[ctx.slot] = undefined;
  }
}

/** Creates the interest filter plugin (see InterestFilter). */
export function interestFilter(options: InterestFilterOptions): InterestFilter {
  return new InterestFilter(options);
}
