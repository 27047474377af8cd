/**
 * Raw Bun.udpSocket ping-pong RTT between two processes (no fastnet code): the
 * floor the driver sits on. 64-byte datagrams on 127.0.0.1, a child Bun
 * process echoes. Normal mode (event loop sleeps in epoll) vs spin mode (a
 * setImmediate loop keeps both event loops awake). Prints p50 / p99 / p99.9
 * in µs over `--rounds` round trips after `--warmup`.
 *
 * Run: `bun packages/core/bench/raw-udp.ts [--rounds 20000] [--warmup 2000] [--pin none|cross|same]`
 * `--pin cross` puts the two processes on CPUs 0 and 1 (taskset), `same` both on CPU 0
 * (spin is skipped there: two spinners on one CPU alternate by time slice, ms per round trip).
 * Bounded: each mode stops after 30 s whatever happens; a lost datagram is resent after 50 ms.
 */

const args = process.argv.slice(2);
function arg(name: string, def: string): string {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && i + 1 < args.length ? args[i + 1]! : def;
}

const SIZE = 64;
const STOP = 1; // a 1-byte datagram tells the echo process to exit

if (args[0] === "--echo") await echo(args[1] === "spin");
else await main();

async function echo(spin: boolean): Promise<void> {
  const socket = await Bun.udpSocket({
    hostname: "127.0.0.1",
    port: 0,
    binaryType: "uint8array",
    socket: {
      data(s, data, port, host) {
        if (data.length === STOP) {
          s.close();
          process.exit(0);
        }
        s.send(data, port, host);
      },
      error() {},
    },
  });
  if (spin) {
    const loop = (): void => void setImmediate(loop);
    loop();
  }
  // Never outlive a parent that died.
  setTimeout(() => process.exit(2), 120_000).unref();
  process.stdout.write(`${socket.port}\n`);
}

interface Result {
  mode: string;
  p50: number;
  p99: number;
  p999: number;
  max: number;
  resent: number;
  measured: number;
}

async function measure(spin: boolean, pin: string, rounds: number, warmup: number): Promise<Result> {
  const childCmd = [process.execPath, import.meta.path, "--echo", spin ? "spin" : "normal"];
  const cmd = pin === "cross" ? ["taskset", "-c", "1", ...childCmd] : pin === "same" ? ["taskset", "-c", "0", ...childCmd] : childCmd;
  const child = Bun.spawn(cmd, { stdout: "pipe", stderr: "inherit" });
  const reader = child.stdout.getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("echo process exited before reporting its port");
    text += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  const port = Number(text.trim());

  const total = rounds + warmup;
  const rtts = new Float64Array(rounds);
  const ping = new Uint8Array(SIZE);
  let i = 0;
  let t0 = 0;
  let lastProgress = performance.now();
  let resent = 0;
  let finish!: () => void;
  const done = new Promise<void>((r) => (finish = r));

  const socket = await Bun.udpSocket({
    hostname: "127.0.0.1",
    port: 0,
    binaryType: "uint8array",
    socket: {
      data(s, data) {
        const t = performance.now();
        const seq = data[0]! | (data[1]! << 8) | (data[2]! << 16);
        if (seq !== i) return; // a late answer to a resent ping
        if (i >= warmup) rtts[i - warmup] = (t - t0) * 1000;
        i++;
        lastProgress = t;
        if (i >= total) return finish();
        ping[0] = i & 0xff;
        ping[1] = (i >> 8) & 0xff;
        ping[2] = i >> 16;
        t0 = performance.now();
        s.send(ping, port, "127.0.0.1");
      },
      error() {},
    },
  });

  let spinning = spin;
  if (spin) {
    const loop = (): void => {
      if (spinning) setImmediate(loop);
    };
    loop();
  }
  const deadline = performance.now() + 30_000;
  const watchdog = setInterval(() => {
    const now = performance.now();
    if (now > deadline) return finish();
    if (now - lastProgress > 50) {
      resent++;
      lastProgress = now;
      t0 = performance.now();
      socket.send(ping, port, "127.0.0.1");
    }
  }, 25);

  t0 = performance.now();
  socket.send(ping, port, "127.0.0.1");
  await done;
  spinning = false;
  clearInterval(watchdog);
  socket.send(new Uint8Array(STOP), port, "127.0.0.1");
  const exited = await Promise.race([child.exited, Bun.sleep(1000).then(() => null)]);
  if (exited === null) child.kill();
  socket.close();

  const measured = Math.max(0, i - warmup);
  const sorted = rtts.subarray(0, measured).sort();
  const q = (p: number): number => (measured === 0 ? NaN : sorted[Math.min(measured - 1, Math.floor(p * measured))]!);
  return { mode: spin ? "spin" : "normal", p50: q(0.5), p99: q(0.99), p999: q(0.999), max: q(1), resent, measured };
}

async function main(): Promise<void> {
  const rounds = Number(arg("rounds", "20000"));
  const warmup = Number(arg("warmup", "2000"));
  const pin = arg("pin", "none");
  if (!["none", "cross", "same"].includes(pin)) throw new Error(`--pin must be none, cross or same, got ${pin}`);
  if (pin !== "none") {
    // Pin every thread of this process; the child is started under taskset.
    const r = Bun.spawnSync(["taskset", "-a", "-c", "-p", "0", String(process.pid)], { stdout: "ignore", stderr: "pipe" });
    if (r.exitCode !== 0) throw new Error(`taskset failed: ${r.stderr.toString()}`);
  }
  console.log(`raw Bun.udpSocket ping-pong, ${SIZE} B, 127.0.0.1, ${rounds} round trips after ${warmup} warm-up, pin=${pin}, Bun ${Bun.version}`);
  console.log("mode     p50 µs   p99 µs  p99.9 µs    max µs  resent");
  const results: Result[] = [];
  for (const spin of [false, true]) {
    if (spin && pin === "same") {
      // Two spinning processes on one CPU take turns by scheduler time slice (ms per round trip).
      console.log("spin     skipped with --pin same: two spinners on one CPU wait for each other's time slice");
      continue;
    }
    const r = await measure(spin, pin, rounds, warmup);
    results.push(r);
    const f = (x: number): string => x.toFixed(1).padStart(8);
    console.log(`${r.mode.padEnd(7)}${f(r.p50)} ${f(r.p99)}  ${f(r.p999)}  ${f(r.max)}  ${String(r.resent).padStart(6)}${r.measured < rounds ? `  (only ${r.measured} measured: time limit)` : ""}`);
  }
  const [n, s] = results;
  if (n && s) console.log(`spin/normal p50 ratio: ${(s.p50 / n.p50).toFixed(2)}`);
}
