/**
 * The jitter-buffer plugin (message layer). On the channels it manages, the
 * sender stamps every message with a 16-bit sequence number and a 32-bit
 * timestamp (6 bytes); the receiver holds arriving messages in a JitterBuffer
 * per peer and channel and hands them to the application in order, at a
 * steady cadence, from onTick (ctx.deliver). A missing message is reported at
 * its turn as a zero-length message (a gap marker) so the application can
 * conceal it; a message arriving after its turn is dropped and counted.
 *
 * Register it on both ends with the same channels, among the message-layer
 * plugins (before FEC and crypto); put it after delta (it should see the
 * bytes the application sent) and before priority (which holds messages: the
 * timestamp must be taken when the application sends, not when priority
 * releases the message).
 */
import { ErrorCode, FastnetError, type Peer, type Plugin, type PluginContext } from "@fastnet/core/protocol";
import {
  BUFFER_OPTION_KEYS, JitterBuffer, type JitterBufferOptions, type JitterStats, PushResult, resolveBufferOptions,
} from "./buffer.ts";

export interface JitterOptions extends JitterBufferOptions {
  /** Channels to buffer (their messages gain a 6-byte header). Default [1] (Channel.Unreliable). */
  channels?: number[];
  /** Report a missing message at its turn as a zero-length message. Default true. */
  gapMarkers?: boolean;
  /**
   * Sender side: the timestamp of a message sent at endpoint time `now`, ms. Default: `now`. Pass a
   * media clock (e.g. samples / rate * 1000) when frames are timed by it.
   */
  clock?: (now: number) => number;
}

/** Size of the header on managed channels: seq(2) timestamp(4). */
export const JITTER_HEADER = 6;
/** Timestamp unit on the wire: 1/8 ms (the 32-bit field wraps after 6.2 days; receivers unwrap it). */
export const TIMESTAMP_UNIT_MS = 0.125;

export interface JitterPlugin extends Plugin {
  readonly name: "jitter";
  /** Playout statistics of one peer's channel, or undefined when nothing arrived on it. */
  stats(peer: Peer, channel: number): JitterStats | undefined;
  /** Messages dropped because they were too short to hold the header (every peer, every channel). */
  readonly malformed: number;
}

const EMPTY = new Uint8Array(0);

class PeerJitter {
  readonly txSeq: Uint16Array;
  readonly buffers: (JitterBuffer | undefined)[] = [];
  dead = false;
  constructor(channels: number) {
    this.txSeq = new Uint16Array(channels);
  }
}

interface Active {
  peer: Peer;
  st: PeerJitter;
  channel: number;
  buffer: JitterBuffer;
}

function fail(option: string, expected: string, got: unknown): never {
  const shown = typeof got === "number" || typeof got === "boolean" || got == null ? String(got) : typeof got === "string" ? JSON.stringify(got) : Array.isArray(got) ? "an array" : typeof got;
  throw new FastnetError(ErrorCode.INVALID_CONFIG, `jitter: option '${option}' must be ${expected}, got ${shown}`);
}

const KNOWN = new Set<string>([...BUFFER_OPTION_KEYS, "channels", "gapMarkers", "clock"]);

/** Creates the jitter-buffer plugin. Throws FASTNET_INVALID_CONFIG on bad options. */
export function jitter(options: JitterOptions = {}): JitterPlugin {
  if (typeof options !== "object" || options === null) fail("options", "an object", options);
  for (const key of Object.keys(options)) if (!KNOWN.has(key)) fail(key, `one of the known options (${[...KNOWN].join(", ")})`, key);
  const bufferOptions = resolveBufferOptions(Object.fromEntries(BUFFER_OPTION_KEYS.filter((k) => options[k] !== undefined).map((k) => [k, options[k]])));
  const channels = options.channels ?? [1];
  if (!Array.isArray(channels) || channels.length === 0 || channels.some((c) => !Number.isInteger(c) || c < 0 || c > 254)) {
    fail("channels", "a non-empty array of channel indexes in [0, 254]", channels);
  }
  const gapMarkers = options.gapMarkers ?? true;
  if (typeof gapMarkers !== "boolean") fail("gapMarkers", "a boolean", gapMarkers);
  const clock = options.clock;
  if (clock !== undefined && typeof clock !== "function") fail("clock", "a function", clock);

  const managed = new Uint8Array(256);
  for (const c of channels) managed[c] = 1;
  const maxChannel = Math.max(...channels) + 1;
  let slot = -1;
  let scratch = new Uint8Array(2048);
  let deadline = Infinity;
  const active: Active[] = [];
  let malformed = 0;

  function stateOf(peer: Peer): PeerJitter {
    let st = peer.slots[slot] as PeerJitter | undefined;
    if (st === undefined) {
      st = new PeerJitter(maxChannel);
      peer.slots[slot] = st;
    }
    return st;
  }

  const plugin: JitterPlugin = {
    name: "jitter",

    get malformed() {
      return malformed;
    },

    init(ctx) {
      slot = ctx.slot;
      for (const c of channels) {
        if (ctx.channelKind(c) === undefined) fail("channels", "channels that exist on the endpoint", c);
      }
    },

    outgoingMessage(peer, channel, data, ctx) {
      if (managed[channel] !== 1) return data;
      const st = stateOf(peer);
      const seq = st.txSeq[channel]!;
      st.txSeq[channel] = seq + 1;
      const now = clock === undefined ? ctx.now : clock(ctx.now);
      const ts = Math.round(now / TIMESTAMP_UNIT_MS) >>> 0;
      const size = JITTER_HEADER + data.length;
      if (scratch.length < size) scratch = new Uint8Array(Math.max(size, scratch.length * 2));
      scratch[0] = seq >>> 8;
      scratch[1] = seq & 0xff;
      scratch[2] = ts >>> 24;
      scratch[3] = (ts >>> 16) & 0xff;
      scratch[4] = (ts >>> 8) & 0xff;
      scratch[5] = ts & 0xff;
      scratch.set(data, JITTER_HEADER);
      // The endpoint copies what we return at once, so the scratch buffer can be reused.
      return scratch.subarray(0, size);
    },

    incomingMessage(peer, channel, data, ctx) {
      if (managed[channel] !== 1) return data;
      if (data.length < JITTER_HEADER) {
        malformed++;
        return null;
      }
      const st = stateOf(peer);
      if (st.dead) return null;
      let buffer = st.buffers[channel];
      if (buffer === undefined) {
        buffer = new JitterBuffer(bufferOptions);
        st.buffers[channel] = buffer;
        active.push({ peer, st, channel, buffer });
      }
      const seq = (data[0]! << 8) | data[1]!;
      const ts = ((data[2]! << 24) | (data[3]! << 16) | (data[4]! << 8) | data[5]!) >>> 0;
      // `data` is the core's own copy for this delivery: the buffer may keep a view of it.
      if (buffer.push(ctx.now, seq, ts * TIMESTAMP_UNIT_MS, data.subarray(JITTER_HEADER)) === PushResult.OK) {
        const d = buffer.nextDeadline();
        if (d < deadline) deadline = d;
      }
      return null;
    },

    onTick(now, ctx) {
      if (now < deadline) return;
      let next = Infinity;
      for (let i = 0; i < active.length; i++) {
        const a = active[i]!;
        if (a.st.dead) {
          active[i] = active[active.length - 1]!;
          active.pop();
          i--;
          continue;
        }
        deliverDue(a, now, ctx);
        const d = a.buffer.nextDeadline();
        if (d < next) next = d;
      }
      deadline = next;
    },

    nextDeadline() {
      return deadline;
    },

    onDisconnected(peer) {
      const st = peer.slots[slot] as PeerJitter | undefined;
      if (st !== undefined) st.dead = true;
      peer.slots[slot] = undefined;
    },

    stats(peer, channel) {
      const st = peer.slots[slot] as PeerJitter | undefined;
      return st?.buffers[channel]?.stats();
    },
  };

  function deliverDue(a: Active, now: number, ctx: PluginContext): void {
    const live = a.peer.state === "connected" || a.peer.state === "disconnecting";
    for (let ev = a.buffer.poll(now); ev !== undefined; ev = a.buffer.poll(now)) {
      if (!live) continue;
      if (ev.type === "frame") ctx.deliver(a.peer, a.channel, ev.data);
      else if (gapMarkers) ctx.deliver(a.peer, a.channel, EMPTY);
    }
  }

  return plugin;
}
