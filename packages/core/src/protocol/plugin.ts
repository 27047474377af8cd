/**
 * The plugin interface (ARCHITECTURE.md §4) and its host. Plugins change
 * protocol behaviour in-process, synchronously, at four layers:
 *   1. datagram bytes (crypto, FEC): seal/open transforms that may drop;
 *   2. messages per channel (delta, priority, interest, jitter) + ack/loss feedback;
 *   3. peer lifecycle (connecting: accept/reject/challenge; connected; disconnected);
 *   4. time (tick, next deadline folded into pollTimeout);
 * plus read-only trace observation, and one-of-a-kind slots (congestion
 * controller, scheduler, secure handshake). Hook arrays are composed once at
 * registration; hooks a plugin leaves out cost nothing per packet.
 *
 * Order: outgoing transforms run first to last in registration order,
 * incoming transforms last to first, so the LAST registered plugin is the
 * outermost layer on the wire. Canonical stack, first to last: message-layer
 * plugins (delta, interest, priority, jitter), then FEC, then crypto, so that
 * crypto seals every datagram FEC produced (docs/writing-a-plugin.md).
 */
import type { CongestionController } from "./congestion.ts";
import { ErrorCode, FastnetError } from "./errors.ts";
import type {
  Address, ChannelKind, DisconnectReason, DropReason, PeerState, PeerStats, RandomSource, SendOptions,
} from "./types.ts";

/**
 * Returned by `openDatagram` for a datagram the plugin consumed on purpose (e.g. an FEC parity
 * datagram): processing stops, and unlike `null` it is not counted as a drop.
 */
export const CONSUMED: Uint8Array = new Uint8Array(0);

/** The application's and plugins' handle on one remote peer. */
export interface Peer {
  /** Local connection id of this peer (unique on this endpoint while the peer lives). */
  readonly id: number;
  /** The peer's current UDP address. */
  readonly address: Address;
  readonly state: PeerState;
  /** Smoothed RTT, ms. */
  readonly rttMs: number;
  /** Bytes that may be sent now within the congestion window. */
  readonly sendBudget: number;
  stats(): PeerStats;
  /** Per-plugin state, indexed by `PluginContext.slot`: an array index, not a Map lookup. */
  readonly slots: unknown[];
  /** Free for the application. */
  userData: unknown;
}

export interface PluginContext {
  /** This plugin's index into `peer.slots`. */
  readonly slot: number;
  /** The time of the call being processed, ms. */
  readonly now: number;
  readonly random: RandomSource;
  /** Max datagram size the endpoint sends. */
  readonly mtu: number;
  channelKind(channel: number): ChannelKind | undefined;
  /**
   * Sends a message as the application would, but bypassing the outgoingMessage hooks. Pass `now`
   * when calling from outside a hook (e.g. from the game loop) so expiry counts from the real time.
   */
  send(peer: Peer, channel: number, data: Uint8Array, options?: SendOptions, now?: number): number;
  /** Queues a message event for the application. */
  deliver(peer: Peer, channel: number, data: Uint8Array): void;
  /** Queues a raw datagram, bypassing all transforms (e.g. a stateless reply). At most `mtu` bytes, else throws FASTNET_INVALID_ARGUMENT. */
  queueDatagram(to: Address, data: Uint8Array): void;
  /** Counts a dropped input under `reason` and emits a drop trace event. */
  /**
   * Queues a datagram to `peer` that the seal transforms of plugins registered AFTER this one still
   * process (e.g. FEC parity that crypto must seal). It must fit the mtu with their overhead.
   */
  sendDatagram(peer: Peer, data: Uint8Array): void;
  /**
   * Hands the endpoint a datagram as if it had arrived from `from`, processed by the open transforms
   * of plugins registered BEFORE this one and then by core (e.g. a packet FEC recovered). Processed
   * after the current datagram, never re-entrantly.
   */
  injectDatagram(from: Address, data: Uint8Array): void;
  countDrop(reason: DropReason, from?: Address): void;
  disconnect(peer: Peer): void;
}

export interface ConnectRequest {
  readonly from: Address;
  /** The client's connection id. */
  readonly clientId: number;
  /** Bytes the client's plugins attached (token, credentials, challenge answer). */
  readonly payload: Uint8Array;
}

export type ConnectDecision =
  /** `state`, when given, is stored in the new peer's `slots[ctx.slot]` before anything is sent to it. */
  | { accept: true; state?: unknown }
  | { accept: false; reason: string }
  /** Ask the client to repeat its request with an answer to these bytes (stateless cookie). */
  | { challenge: Uint8Array };

export type TraceEvent =
  | { type: "packet-sent"; now: number; peer: Peer; seq: number; size: number; ackEliciting: boolean }
  | { type: "packet-received"; now: number; peer: Peer; seq: number; size: number }
  | { type: "packet-acked"; now: number; peer: Peer; seq: number; rttMs: number }
  | { type: "packet-lost"; now: number; peer: Peer; seq: number }
  | { type: "drop"; now: number; reason: DropReason; from?: Address; peer?: Peer }
  | { type: "send-drop"; now: number; peer: Peer; channel: number; reason: "expired" | "superseded" }
  | { type: "state"; now: number; peer: Peer; state: PeerState; reason?: DisconnectReason };

/** Picks which channel sends next; fills the scheduler slot. */
export interface Scheduler {
  readonly name: string;
  /**
   * `queued[c]` is the number of bytes queued on channel c (0 = nothing).
   * Returns the channel to take the next message from, or -1 to send nothing more now.
   */
  pick(peer: Peer, queued: ArrayLike<number>, budget: number): number;
}

export interface Plugin {
  readonly name: string;
  /** Bytes this plugin adds to each datagram; the endpoint packs that much less. */
  readonly datagramOverhead?: number;
  /** Fills the secure-handshake slot: the endpoint may then run without `insecure`. */
  readonly secureHandshake?: boolean;
  /** Fills the congestion slot: a controller per peer. */
  readonly congestion?: (peer: Peer, mtu: number) => CongestionController;
  /** Fills the scheduler slot. */
  readonly scheduler?: Scheduler;

  /** Called once when registered. */
  init?(ctx: PluginContext): void;

  // Layer 1: datagram bytes.
  /**
   * Transforms an outgoing datagram in place. `buf` holds it in [0, length) and has room up to
   * `buf.length`; returns the new length, or -1 to drop it. `peer` is the connection's peer (in state
   * "connecting" for connect requests and accepts), undefined for stateless replies (challenge, deny).
   */
  sealDatagram?(buf: Uint8Array, length: number, peer: Peer | undefined, ctx: PluginContext): number;
  /**
   * Transforms an incoming datagram (after the fixed header was checked). Returns the bytes to pass
   * on (may be a view of a plugin-owned buffer, valid until the next call) or null to drop. `peer` is
   * undefined for connect requests (and for anything from an unknown connection, which never gets here).
   */
  openDatagram?(data: Uint8Array, peer: Peer | undefined, from: Address, ctx: PluginContext): Uint8Array | null;

  // Layer 2: messages.
  outgoingMessage?(peer: Peer, channel: number, data: Uint8Array, ctx: PluginContext): Uint8Array | null;
  incomingMessage?(peer: Peer, channel: number, data: Uint8Array, ctx: PluginContext): Uint8Array | null;
  /** Message `messageId` was delivered: every part of it was acknowledged. */
  onMessageAcked?(peer: Peer, channel: number, messageId: number, ctx: PluginContext): void;
  /**
   * A packet carrying part of message `messageId` was lost, or the message was dropped unsent
   * (expired, superseded). Reliable messages are resent (this can fire once per lost transmission);
   * unreliable ones are reported once and never acked afterwards.
   */
  onMessageLost?(peer: Peer, channel: number, messageId: number, ctx: PluginContext): void;

  // Layer 3: lifecycle.
  /** Client side: bytes to attach to the connect request (after a challenge, `challenge` is set). */
  connectPayload?(peer: Peer, challenge: Uint8Array | undefined, ctx: PluginContext): Uint8Array | undefined;
  /** Server side: decide on a connect request. The first non-accept decision wins. */
  onConnecting?(request: ConnectRequest, ctx: PluginContext): ConnectDecision;
  onConnected?(peer: Peer, ctx: PluginContext): void;
  onDisconnected?(peer: Peer, reason: DisconnectReason, ctx: PluginContext): void;

  // Layer 4: time.
  onTick?(now: number, ctx: PluginContext): void;
  /** Earliest time this plugin needs onTick; folded into pollTimeout. */
  nextDeadline?(): number;

  // Observation.
  onTrace?(event: TraceEvent): void;
}

interface Bound<F> {
  fn: F;
  ctx: PluginContext;
  plugin: Plugin;
}

type Hook<K extends keyof Plugin> = NonNullable<Plugin[K]>;

/** Composed hook arrays: built once at registration, iterated on the hot path. */
export class PluginHost {
  readonly plugins: Plugin[] = [];
  readonly contexts: PluginContext[] = [];
  seal: Bound<Hook<"sealDatagram">>[] = [];
  /** Already reversed: incoming transforms run last to first. */
  open: Bound<Hook<"openDatagram">>[] = [];
  outgoingMessage: Bound<Hook<"outgoingMessage">>[] = [];
  incomingMessage: Bound<Hook<"incomingMessage">>[] = [];
  acked: Bound<Hook<"onMessageAcked">>[] = [];
  lost: Bound<Hook<"onMessageLost">>[] = [];
  connectPayload: Bound<Hook<"connectPayload">>[] = [];
  connecting: Bound<Hook<"onConnecting">>[] = [];
  connected: Bound<Hook<"onConnected">>[] = [];
  disconnected: Bound<Hook<"onDisconnected">>[] = [];
  tick: Bound<Hook<"onTick">>[] = [];
  deadline: Bound<Hook<"nextDeadline">>[] = [];
  trace: Bound<Hook<"onTrace">>[] = [];
  overhead = 0;
  congestion: Plugin["congestion"];
  scheduler: Scheduler | undefined;
  secure = false;

  register(plugin: Plugin, makeContext: (slot: number) => PluginContext): void {
    if (!plugin || typeof plugin !== "object" || typeof plugin.name !== "string" || plugin.name.length === 0) {
      throw new FastnetError(ErrorCode.INVALID_PLUGIN, "a plugin must be an object with a non-empty string 'name'");
    }
    if (this.plugins.some((p) => p.name === plugin.name)) {
      throw new FastnetError(ErrorCode.INVALID_PLUGIN, `plugin '${plugin.name}' is registered twice`);
    }
    const overhead = plugin.datagramOverhead ?? 0;
    if (!Number.isInteger(overhead) || overhead < 0 || overhead > 1024) {
      throw new FastnetError(ErrorCode.INVALID_PLUGIN, `plugin '${plugin.name}': datagramOverhead must be an integer in [0, 1024], got ${String(overhead)}`);
    }
    const hookNames = [
      "init", "sealDatagram", "openDatagram", "outgoingMessage", "incomingMessage", "onMessageAcked",
      "onMessageLost", "connectPayload", "onConnecting", "onConnected", "onDisconnected", "onTick",
      "nextDeadline", "onTrace", "congestion",
    ] as const;
    for (const h of hookNames) {
      const v = plugin[h];
      if (v !== undefined && typeof v !== "function") {
        throw new FastnetError(ErrorCode.INVALID_PLUGIN, `plugin '${plugin.name}': '${h}' must be a function`);
      }
    }
    const sched = plugin.scheduler as Partial<Scheduler> | undefined;
    if (sched !== undefined && (sched === null || typeof sched !== "object" || typeof sched.pick !== "function")) {
      throw new FastnetError(ErrorCode.INVALID_PLUGIN, `plugin '${plugin.name}': 'scheduler' must be an object with a pick() function`);
    }
    if (plugin.congestion && this.congestion) {
      throw new FastnetError(ErrorCode.SLOT_TAKEN, `plugin '${plugin.name}': the congestion slot is already filled`);
    }
    if (plugin.scheduler && this.scheduler) {
      throw new FastnetError(ErrorCode.SLOT_TAKEN, `plugin '${plugin.name}': the scheduler slot is already filled by '${this.scheduler.name}'`);
    }
    if (plugin.secureHandshake && this.secure) {
      throw new FastnetError(ErrorCode.SLOT_TAKEN, `plugin '${plugin.name}': the secure handshake slot is already filled`);
    }
    const slot = this.plugins.length;
    const ctx = makeContext(slot);
    this.plugins.push(plugin);
    this.contexts.push(ctx);
    this.overhead += overhead;
    if (plugin.congestion) this.congestion = plugin.congestion;
    if (plugin.scheduler) this.scheduler = plugin.scheduler;
    if (plugin.secureHandshake) this.secure = true;
    const bind = <K extends keyof Plugin>(k: K, list: Bound<Hook<K>>[], prepend = false): void => {
      const fn = plugin[k];
      if (typeof fn !== "function") return;
      const entry = { fn: fn.bind(plugin) as Hook<K>, ctx, plugin };
      if (prepend) list.unshift(entry);
      else list.push(entry);
    };
    bind("sealDatagram", this.seal);
    bind("openDatagram", this.open, true);
    bind("outgoingMessage", this.outgoingMessage);
    bind("incomingMessage", this.incomingMessage, true);
    bind("onMessageAcked", this.acked);
    bind("onMessageLost", this.lost);
    bind("connectPayload", this.connectPayload);
    bind("onConnecting", this.connecting);
    bind("onConnected", this.connected);
    bind("onDisconnected", this.disconnected);
    bind("onTick", this.tick);
    bind("nextDeadline", this.deadline);
    bind("onTrace", this.trace);
    plugin.init?.(ctx);
  }
}
