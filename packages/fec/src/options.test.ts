import { describe, expect, test } from "bun:test";
import { ErrorCode, FastnetError } from "@fastnet/core/protocol";
import { fec } from "./fec.ts";
import type { FecOptions } from "./options.ts";

describe("fec options", () => {
  test("defaults: adaptive xor over groups of 4, closed at the end of each send burst", () => {
    expect(fec().options).toEqual({
      mode: "xor", groupSize: 4, parityShards: 1, adaptive: true, minGroupSize: 2, maxGroupSize: 16, minLoss: 0.005,
      maxGroupDelayMs: 0, window: 16, verify: true,
    });
    const rs = fec({ mode: "reed-solomon" }).options;
    expect([rs.groupSize, rs.parityShards, rs.window]).toEqual([8, 3, 8]);
  });

  test.each<[string, unknown, string]>([
    ["options that are not an object", 5, "options"],
    ["an unknown option", { groupsize: 4 }, "groupsize"],
    ["an unknown mode", { mode: "raptor" }, "mode"],
    ["a group size of 0", { groupSize: 0 }, "groupSize"],
    ["a group size of 33", { groupSize: 33 }, "groupSize"],
    ["a fractional group size", { groupSize: 2.5 }, "groupSize"],
    ["parity shards in xor mode", { parityShards: 2 }, "parityShards"],
    ["17 parity shards", { mode: "reed-solomon", parityShards: 17 }, "parityShards"],
    ["0 parity shards", { mode: "reed-solomon", parityShards: 0 }, "parityShards"],
    ["minGroupSize above maxGroupSize", { minGroupSize: 8, maxGroupSize: 4 }, "minGroupSize"],
    ["a negative minLoss", { minLoss: -0.1 }, "minLoss"],
    ["a minLoss above 0.5", { minLoss: 0.6 }, "minLoss"],
    ["a NaN minLoss", { minLoss: Number.NaN }, "minLoss"],
    ["a negative group delay", { maxGroupDelayMs: -1 }, "maxGroupDelayMs"],
    ["an infinite group delay", { maxGroupDelayMs: Infinity }, "maxGroupDelayMs"],
    ["a window that is not a power of two", { window: 12 }, "window"],
    ["a window of 512", { window: 512 }, "window"],
    ["adaptive that is not a boolean", { adaptive: "yes" }, "adaptive"],
    ["verify that is not a boolean", { verify: 1 }, "verify"],
  ])("%s throws FASTNET_INVALID_CONFIG naming the option", (_what, options, name) => {
    let err: unknown;
    try {
      fec(options as FecOptions);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(FastnetError);
    expect((err as FastnetError).code).toBe(ErrorCode.INVALID_CONFIG);
    expect((err as FastnetError).message).toContain(`'${name}'`);
  });
});
