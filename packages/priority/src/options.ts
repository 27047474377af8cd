/**
 * Priority options: defaults and validation, once, at construction
 * (FASTNET_INVALID_CONFIG naming the option).
 */
import { ErrorCode, FastnetError } from "@fastnet/core/protocol";

export interface PriorityClassConfig {
  /** Name used in send options and channel defaults. */
  name: string;
  /** Share of the send budget among non-strict classes (relative). Default 1. */
  weight?: number;
  /** Served before every non-strict class, whatever the budget (e.g. "critical"). Default false. */
  strict?: boolean;
}

export interface PriorityOptions {
  /**
   * Priority classes, most important first. Default: critical (strict), high (weight 8),
   * normal (weight 4), low (weight 1).
   */
  classes?: PriorityClassConfig[];
  /** Class of messages sent without an explicit priority, per channel index. Default: `defaultClass` for all. */
  channelClass?: Record<number, string> | readonly (string | undefined)[];
  /** Share of a channel within its class (relative), per channel index. Default 1. */
  channelWeight?: Record<number, number> | readonly (number | undefined)[];
  /** Class for channels without a channelClass entry. Default "normal" (or the first non-strict class). */
  defaultClass?: string;
  /** Channels whose messages priority holds and schedules; others pass straight to the core. Default: all. */
  channels?: readonly number[];
  /** When strict classes use the whole budget, a message that waited this long goes anyway (one per flush), ms. Default 1000. */
  starvationMs?: number;
  /** Bytes held per peer at most; more throws FASTNET_WINDOW_FULL from send. Default 4 MiB. */
  maxQueuedBytes?: number;
  /** Unreliable and sequenced messages held longer than this are dropped, ms. Default 250 (the core's unreliableTtlMs). */
  unreliableTtlMs?: number;
  /** While messages wait for budget, look again this often, ms (acks also wake it). Default 10. */
  retryMs?: number;
}

export interface ResolvedClass {
  name: string;
  weight: number;
  strict: boolean;
}

export interface ResolvedPriorityOptions {
  classes: ResolvedClass[];
  /** Class index per channel (0..255). */
  channelClass: Int16Array;
  /** Weight per channel (0..255). */
  channelWeight: Float64Array;
  /** Managed channels, or null for all. */
  channels: number[] | null;
  starvationMs: number;
  maxQueuedBytes: number;
  unreliableTtlMs: number;
  retryMs: number;
}

export const DEFAULT_CLASSES: readonly PriorityClassConfig[] = Object.freeze([
  { name: "critical", strict: true },
  { name: "high", weight: 8 },
  { name: "normal", weight: 4 },
  { name: "low", weight: 1 },
]);

const KNOWN = new Set([
  "classes", "channelClass", "channelWeight", "defaultClass", "channels", "starvationMs", "maxQueuedBytes", "unreliableTtlMs", "retryMs",
]);

function show(got: unknown): string {
  if (typeof got === "string") return JSON.stringify(got);
  if (typeof got === "number" || typeof got === "boolean" || got == null) return String(got);
  return Array.isArray(got) ? "an array" : typeof got;
}

function fail(option: string, expected: string, got: unknown): never {
  throw new FastnetError(ErrorCode.INVALID_CONFIG, `priority: option '${option}' must be ${expected}, got ${show(got)}`);
}

function positive(v: unknown, name: string, dflt: number, allowZero = false): number {
  if (v === undefined) return dflt;
  if (typeof v !== "number" || !Number.isFinite(v) || v < 0 || (!allowZero && v === 0)) fail(name, allowZero ? "a finite number >= 0" : "a finite number > 0", v);
  return v;
}

/** Entries of a per-channel option given as an array or a { channel: value } record. */
function perChannel<T>(v: unknown, name: string): [number, T][] {
  if (v === undefined) return [];
  if (typeof v !== "object" || v === null) fail(name, "an array or an object keyed by channel index", v);
  const out: [number, T][] = [];
  for (const [k, value] of Object.entries(v)) {
    if (value === undefined) continue;
    const ch = Number(k);
    if (!Number.isInteger(ch) || ch < 0 || ch > 254) fail(`${name}[${k}]`, "a channel index in [0, 254]", k);
    out.push([ch, value as T]);
  }
  return out;
}

export function resolvePriorityOptions(options: PriorityOptions | undefined): ResolvedPriorityOptions {
  if (options === undefined) options = {};
  if (typeof options !== "object" || options === null) fail("options", "an object", options);
  for (const key of Object.keys(options)) if (!KNOWN.has(key)) fail(key, `one of the known options (${[...KNOWN].join(", ")})`, key);

  const rawClasses = options.classes ?? DEFAULT_CLASSES;
  if (!Array.isArray(rawClasses) || rawClasses.length === 0 || rawClasses.length > 32) fail("classes", "an array of 1 to 32 classes", rawClasses);
  const classes: ResolvedClass[] = [];
  const names = new Set<string>();
  rawClasses.forEach((c: PriorityClassConfig, i: number) => {
    if (typeof c !== "object" || c === null) fail(`classes[${i}]`, "an object { name, weight?, strict? }", c);
    if (typeof c.name !== "string" || c.name.length === 0) fail(`classes[${i}].name`, "a non-empty string", c.name);
    if (names.has(c.name)) fail(`classes[${i}].name`, "a name no other class has", c.name);
    names.add(c.name);
    if (c.strict !== undefined && typeof c.strict !== "boolean") fail(`classes[${i}].strict`, "a boolean", c.strict);
    const weight = positive(c.weight, `classes[${i}].weight`, 1);
    classes.push({ name: c.name, weight, strict: c.strict === true });
  });
  // Strict classes are served first, in the order given; they must come first.
  const firstLoose = classes.findIndex((c) => !c.strict);
  if (firstLoose >= 0 && classes.slice(firstLoose).some((c) => c.strict)) fail("classes", "strict classes before all the others", "a strict class after a weighted one");

  const indexOf = (name: unknown, option: string): number => {
    const i = classes.findIndex((c) => c.name === name);
    if (i < 0) fail(option, `one of the class names (${classes.map((c) => c.name).join(", ")})`, name);
    return i;
  };
  const fallback = options.defaultClass !== undefined
    ? indexOf(options.defaultClass, "defaultClass")
    : classes.findIndex((c) => c.name === "normal") >= 0 ? classes.findIndex((c) => c.name === "normal") : Math.max(0, firstLoose);
  const channelClass = new Int16Array(256).fill(fallback);
  for (const [ch, name] of perChannel<string>(options.channelClass, "channelClass")) channelClass[ch] = indexOf(name, `channelClass[${ch}]`);
  const channelWeight = new Float64Array(256).fill(1);
  for (const [ch, w] of perChannel<number>(options.channelWeight, "channelWeight")) channelWeight[ch] = positive(w, `channelWeight[${ch}]`, 1);

  let channels: number[] | null = null;
  if (options.channels !== undefined) {
    const c = options.channels;
    if (!Array.isArray(c) || c.some((x) => !Number.isInteger(x) || x < 0 || x > 254)) fail("channels", "an array of channel indexes in [0, 254]", c);
    channels = [...new Set(c as number[])];
  }
  return {
    classes,
    channelClass,
    channelWeight,
    channels,
    starvationMs: positive(options.starvationMs, "starvationMs", 1000),
    maxQueuedBytes: positive(options.maxQueuedBytes, "maxQueuedBytes", 4 * 1024 * 1024),
    unreliableTtlMs: positive(options.unreliableTtlMs, "unreliableTtlMs", 250),
    retryMs: positive(options.retryMs, "retryMs", 10),
  };
}
