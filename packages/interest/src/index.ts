/**
 * @fastnet/interest: area-of-interest management for fastnet. A 2D/3D
 * spatial hash grid, per-observer enter/stay/leave sets with hysteresis,
 * stable per-client snapshot slots for @fastnet/delta, and a plugin that
 * filters entity-scoped messages per client.
 */
export { GridCore, SpatialHash2D, SpatialHash3D, type GridOptions } from "./grid.ts";
export { InterestManager, type InterestOptions, type ObserverOptions, type UpdateStats } from "./interest.ts";
export { ViewSlots } from "./slots.ts";
export { InterestFilter, interestFilter, type InterestFilterOptions, type InterestFilterStats } from "./filter.ts";
export { NaiveInterest } from "./naive.ts";
