/**
 * Tests of configuration validation (config.ts, and the checks the Endpoint
 * constructor adds): every option out of range throws a FastnetError with
 * code FASTNET_INVALID_CONFIG whose message names the option; boundaries are
 * accepted; defaults are the documented ones; an endpoint that is neither
 * secured by a plugin nor explicitly insecure is refused.
 */
import { describe, expect, test } from "bun:test";
import { type EndpointConfig, resolveConfig } from "./config.ts";
import { Endpoint } from "./endpoint.ts";
import { ErrorCode, FastnetError } from "./errors.ts";
import { SeededRandom } from "./random.ts";

const random = new SeededRandom(1);

function base(extra: Record<string, unknown>): EndpointConfig {
  return { random, insecurePlaintext: true, ...extra } as EndpointConfig;
}

/** Runs `fn`, expecting a FastnetError with `code`; returns it for further checks. */
function thrown(fn: () => unknown, code: ErrorCode): FastnetError {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(FastnetError);
  expect((err as FastnetError).code).toBe(code);
  return err as FastnetError;
}

// option, [min accepted, max accepted], rejected values, companion options that make the boundaries valid
const NUMERIC: Array<[string, [number, number], unknown[], Record<string, unknown>]> = [
  ["maxPeers", [1, 65535], [0, 65536, 1.5, -1, "10", Number.NaN], {}],
  ["maxPendingHandshakes", [1, 65535], [0, 65536, 2.5, null], {}],
  ["mtu", [256, 65507], [255, 65508, 1200.5, Infinity, "1200"], {}],
  ["maxMessageSize", [1, 64 << 20], [0, (64 << 20) + 1, 10.5, -5, true], {}],
  ["receiveWindowBytes", [1024, 1 << 30], [1023, (1 << 30) + 1, 4096.5, Number.NaN], { maxMessageSize: 1024 }],
  ["fragmentTimeoutMs", [1, 600_000], [0, 600_001, -1, Infinity, "1"], {}],
  ["keepaliveIntervalMs", [1, 600_000], [0, 600_001, Number.NaN], { idleTimeoutMs: 3_600_000 }],
  ["idleTimeoutMs", [2, 3_600_000], [0, 3_600_001, -Infinity], { keepaliveIntervalMs: 1 }],
  ["handshakeTimeoutMs", [1, 600_000], [0, 600_001, "5000"], {}],
  ["handshakeRetryMs", [1, 600_000], [0, 600_001, {}], {}],
  ["maxAckDelayMs", [0, 600], [-0.5, 600.5, Number.NaN], {}],
  ["initialRttMs", [0.001, 60_000], [0, 60_001, -1], {}],
  ["minRtoMs", [1, 60_000], [0, 60_001, Number.NaN], { maxRtoMs: 60_000 }],
  ["maxRtoMs", [1, 600_000], [0, 600_001, Infinity], { minRtoMs: 1 }],
  ["unreliableTtlMs", [0, 600_000], [-1, 600_001, "250"], {}],
  ["disconnectLingerMs", [0, 600_000], [-1, 600_001, Number.NaN], {}],
];

describe("config: numeric options", () => {
  const rejects = NUMERIC.flatMap(([opt, , bad, extra]) => bad.map((v) => [opt, v, extra] as const));
  test.each(rejects)("%s = %p is rejected, naming the option", (opt, value, extra) => {
    const err = thrown(() => resolveConfig(base({ ...extra, [opt]: value })), ErrorCode.INVALID_CONFIG);
    expect(err.message).toContain(`'${opt}'`);
  });

  const accepts = NUMERIC.flatMap(([opt, [min, max], , extra]) => [[opt, min, extra], [opt, max, extra]] as const);
  test.each(accepts)("%s = %p is accepted", (opt, value, extra) => {
    const cfg = resolveConfig(base({ ...extra, [opt]: value })) as unknown as Record<string, unknown>;
    expect(cfg[opt]).toBe(value);
  });
});

describe("config: relations between options", () => {
  test.each<[string, Record<string, unknown>, string]>([
    ["receiveWindowBytes < maxMessageSize", { maxMessageSize: 1 << 20, receiveWindowBytes: (1 << 20) - 1 }, "receiveWindowBytes"],
    ["maxRtoMs < minRtoMs", { minRtoMs: 100, maxRtoMs: 99 }, "maxRtoMs"],
    ["keepaliveIntervalMs = idleTimeoutMs", { keepaliveIntervalMs: 5000, idleTimeoutMs: 5000 }, "keepaliveIntervalMs"],
    ["keepaliveIntervalMs > idleTimeoutMs (default 10 s)", { keepaliveIntervalMs: 20_000 }, "keepaliveIntervalMs"],
  ])("%s throws naming the option", (_name, extra, opt) => {
    const err = thrown(() => resolveConfig(base(extra)), ErrorCode.INVALID_CONFIG);
    expect(err.message).toContain(`'${opt}'`);
  });

  test("receiveWindowBytes defaults to at least maxMessageSize", () => {
    expect(resolveConfig(base({ maxMessageSize: 32 << 20 })).receiveWindowBytes).toBe(32 << 20);
  });
});

describe("config: shape", () => {
  test.each<[string, unknown, string]>([
    ["config is null", null, "config"],
    ["config is a number", 5, "config"],
    ["random missing", { insecurePlaintext: true }, "random"],
    ["random without fill", { random: { next: () => 1 }, insecurePlaintext: true }, "random"],
    ["insecurePlaintext not a boolean", { random, insecurePlaintext: "yes" }, "insecurePlaintext"],
    ["acceptConnections not a boolean", { random, insecurePlaintext: true, acceptConnections: 1 }, "acceptConnections"],
    ["channels not an array", { random, insecurePlaintext: true, channels: {} }, "channels"],
    ["channels empty", { random, insecurePlaintext: true, channels: [] }, "channels"],
    ["more than 255 channels", { random, insecurePlaintext: true, channels: Array.from({ length: 256 }, () => ({ kind: "unreliable" })) }, "channels"],
    ["unknown channel kind", { random, insecurePlaintext: true, channels: [{ kind: "unreliable" }, { kind: "reliable" }] }, "channels[1].kind"],
    ["null channel", { random, insecurePlaintext: true, channels: [null] }, "channels[0].kind"],
    ["plugins not an array", { random, insecurePlaintext: true, plugins: {} }, "plugins"],
  ])("%s", (_name, cfg, opt) => {
    const err = thrown(() => new Endpoint(cfg as EndpointConfig), ErrorCode.INVALID_CONFIG);
    expect(err.message).toContain(`'${opt}'`);
  });

  test("255 channels are accepted", () => {
    const ep = new Endpoint(base({ channels: Array.from({ length: 255 }, () => ({ kind: "sequenced" })) }));
    expect(ep.channelCount).toBe(255);
  });

  test.each<[string, Record<string, unknown>, string]>([
    ["mtu leaves no room after plugin overhead", { mtu: 300, plugins: [{ name: "fat", datagramOverhead: 1000 }] }, "mtu"],
    ["maxMessageSize needs more than 65535 fragments", { mtu: 256, maxMessageSize: 64 << 20 }, "maxMessageSize"],
  ])("endpoint: %s", (_name, extra, opt) => {
    const err = thrown(() => new Endpoint(base(extra)), ErrorCode.INVALID_CONFIG);
    expect(err.message).toContain(`'${opt}'`);
  });

  test("defaults are the documented ones", () => {
    const c = resolveConfig({ random });
    expect(c).toMatchObject({
      insecurePlaintext: false, acceptConnections: false, maxPeers: 4096, maxPendingHandshakes: 256, mtu: 1200,
      maxMessageSize: 1 << 20, receiveWindowBytes: 4 << 20, fragmentTimeoutMs: 2000, keepaliveIntervalMs: 1000,
      idleTimeoutMs: 10_000, handshakeTimeoutMs: 5000, handshakeRetryMs: 250, maxAckDelayMs: 1, initialRttMs: 100,
      minRtoMs: 20, maxRtoMs: 2000, unreliableTtlMs: 250, disconnectLingerMs: 1000, plugins: [],
    });
    expect(c.channels.map((ch) => ch.kind)).toEqual(["reliable-ordered", "unreliable", "reliable-unordered", "sequenced"]);
  });

  test("channel configs are copied, not shared with the caller", () => {
    const channels = [{ kind: "unreliable" as const }];
    const c = resolveConfig(base({ channels }));
    channels[0]!.kind = "sequenced" as never;
    expect(c.channels[0]!.kind).toBe("unreliable");
  });
});

describe("config: security", () => {
  test.each<[string, Record<string, unknown>]>([
    ["neither insecurePlaintext nor a secure plugin", {}],
    ["insecurePlaintext: false", { insecurePlaintext: false }],
    ["a plugin that does not fill the secure slot", { plugins: [{ name: "metrics" }] }],
  ])("%s → FASTNET_INSECURE_NOT_ALLOWED", (_name, extra) => {
    const err = thrown(() => new Endpoint({ random, ...extra } as EndpointConfig), ErrorCode.INSECURE_NOT_ALLOWED);
    expect(err.message).toContain("insecurePlaintext");
  });

  test("a secure handshake plugin or the explicit insecure mode is enough", () => {
    expect(new Endpoint({ random, plugins: [{ name: "tls", secureHandshake: true }] }).channelCount).toBe(4);
    expect(new Endpoint({ random, insecurePlaintext: true }).channelCount).toBe(4);
  });
});
