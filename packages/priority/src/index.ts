/**
 * @fastnet/priority: priority classes with weighted fair sharing of the send
 * budget, strict critical traffic, no starvation, and supersession of stale
 * unreliable messages. Fills the core's scheduler slot.
 */
export {
  priority, type ClassStats, type MessageSender, type PrioritySendOptions, type PriorityPlugin, type PriorityStats,
} from "./priority.ts";
export { DEFAULT_CLASSES, type PriorityClassConfig, type PriorityOptions, type ResolvedPriorityOptions } from "./options.ts";
export { FairQueue } from "./fair.ts";
