/**
 * Child processes of the bench: every server, client, load generator and
 * relay is a separate Bun process running src/worker.ts, optionally pinned to
 * a CPU with taskset. They talk to the orchestrator in JSON lines (stdout)
 * and take commands as lines on stdin.
 */
import { existsSync, readFileSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";

export const WORKER = new URL("./worker.ts", import.meta.url).pathname;

let tasksetPath: string | null | undefined;
/** Path of taskset, or null when it is missing or there are fewer than 2 CPUs to pin to. */
export function taskset(): string | null {
  if (tasksetPath !== undefined) return tasksetPath;
  const found = ["/usr/bin/taskset", "/bin/taskset", "/usr/local/bin/taskset"].find((p) => existsSync(p)) ?? Bun.which("taskset");
  tasksetPath = found && navigator.hardwareConcurrency >= 2 ? found : null;
  return tasksetPath;
}

export interface MachineInfo {
  bunVersion: string;
  cpuModel: string;
  cpus: number;
  taskset: boolean;
}

export function machineInfo(): MachineInfo {
  let model = cpus()[0]?.model?.trim() ?? "";
  if (model === "") {
    try {
      model = readFileSync("/proc/cpuinfo", "utf8").match(/model name\s*:\s*(.*)/)?.[1]?.trim() ?? "";
    } catch {
      model = "";
    }
  }
  return { bunVersion: Bun.version, cpuModel: model || "unknown CPU", cpus: navigator.hardwareConcurrency, taskset: taskset() !== null };
}

export function load1(): number {
  return loadavg()[0] ?? 0;
}

export class Child {
  private readonly proc: Bun.Subprocess<"pipe", "pipe", "pipe">;
  private readonly queue: string[] = [];
  private waiter: (() => void) | undefined;
  private ended = false;
  private stderrText = "";
  readonly label: string;

  private constructor(label: string, cmd: string[], env: Record<string, string | undefined>) {
    this.label = label;
    this.proc = Bun.spawn(cmd, { stdin: "pipe", stdout: "pipe", stderr: "pipe", env: env as Record<string, string> });
    void this.pump();
    void this.pumpErr();
  }

  /** Starts `bun worker.ts ...args`, pinned to `cpu` when given and taskset is available. */
  static spawn(args: (string | number)[], cpu?: number): Child {
    const ts = taskset();
    const base = [process.execPath, WORKER, ...args.map(String)];
    const cmd = cpu !== undefined && ts !== null ? [ts, "-c", String(cpu), ...base] : base;
    // env passed explicitly: Bun.spawn does not see process.env changes made at run time (the bench cert).
    return new Child(args.slice(0, 2).join(" "), cmd, { ...process.env });
  }

  private async pump(): Promise<void> {
    const decoder = new TextDecoder();
    let buf = "";
    for await (const chunk of this.proc.stdout) {
      buf += decoder.decode(chunk, { stream: true });
      let i: number;
      while ((i = buf.indexOf("\n")) >= 0) {
        this.queue.push(buf.slice(0, i));
        buf = buf.slice(i + 1);
      }
      this.wake();
    }
    if (buf.length > 0) this.queue.push(buf);
    this.ended = true;
    this.wake();
  }

  private async pumpErr(): Promise<void> {
    const decoder = new TextDecoder();
    for await (const chunk of this.proc.stderr) {
      this.stderrText += decoder.decode(chunk, { stream: true });
      if (this.stderrText.length > 20_000) this.stderrText = this.stderrText.slice(-10_000);
    }
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  /** The next stdout line that is a JSON object (other lines are skipped). Throws on timeout or exit. */
  async json<T>(timeoutMs = 60_000, what = "a result"): Promise<T> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      while (this.queue.length > 0) {
        const line = this.queue.shift()!.trim();
        if (!line.startsWith("{")) continue;
        let parsed: unknown;
        try {
          parsed = JSON.parse(line);
        } catch {
          continue;
        }
        const file = (parsed as { __file?: unknown }).__file;
        if (typeof file === "string") {
          parsed = JSON.parse(readFileSync(file, "utf8"));
          rmSync(file, { force: true });
        }
        return parsed as T;
      }
      if (this.ended) throw new Error(`${this.label}: exited (code ${await this.proc.exited}) before ${what}${this.stderr()}`);
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`${this.label}: no ${what} within ${timeoutMs} ms${this.stderr()}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          this.waiter = undefined;
          resolve();
        }, left);
        this.waiter = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
  }

  private stderr(): string {
    const s = this.stderrText.trim();
    return s === "" ? "" : `; stderr: ${s.slice(-2000)}`;
  }

  send(line: string): void {
    try {
      this.proc.stdin.write(`${line}\n`);
      this.proc.stdin.flush();
    } catch {
      // the child is gone; its json() will say so
    }
  }

  get pid(): number {
    return this.proc.pid;
  }

  /** Ends the child (SIGTERM, SIGKILL after 2 s) and waits for it. */
  async kill(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    this.proc.kill("SIGTERM");
    const t = setTimeout(() => this.proc.kill("SIGKILL"), 2000);
    await this.proc.exited;
    clearTimeout(t);
  }
}

/**
 * Starts a server worker and waits for its `{ port }` line, retrying (a fresh process) up to
 * `attempts` times: fastnet's createServer can lose a race for the TCP port numbered like its
 * UDP port (see the bench README), which a new ephemeral port avoids.
 */
export async function spawnServer(args: (string | number)[], cpu: number | undefined, attempts = 3): Promise<{ child: Child; port: number }> {
  let lastErr: unknown;
  for (let i = 0; i < attempts; i++) {
    const child = Child.spawn(args, cpu);
    try {
      const { port } = await child.json<{ port: number }>(15_000, "a port");
      return { child, port };
    } catch (err) {
      lastErr = err;
      await child.kill();
    }
  }
  throw lastErr;
}

/** Kills every child given (in parallel), ignoring those already gone. */
export async function killAll(children: (Child | undefined)[]): Promise<void> {
  await Promise.all(children.map((c) => c?.kill()));
}

/** Process CPU time (user + system), µs. */
export function cpuMicros(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

/**
 * Microseconds on a clock shared by every process of the machine: the process's
 * time origin (wall clock with sub-ms precision, taken at start) plus the
 * monotonic performance.now(). (Bun's process.hrtime() counts from process
 * start, so it is not comparable across processes.)
 */
export function clockUs(): number {
  return (performance.timeOrigin + performance.now()) * 1000;
}

/** Prints one (small) JSON line for the orchestrator. */
export function emit(obj: unknown): void {
  process.stdout.write(`${JSON.stringify(obj)}\n`);
}

let fileSeq = 0;

/**
 * Hands a result of any size to the orchestrator and exits. Large results go through a
 * temporary file (the line printed names it): a several-hundred-KB line written to the stdout
 * pipe of a busy worker arrived corrupted (its first ~220 KB, then the whole line again), and
 * process.exit right after a large process.stdout.write can cut it short.
 */
export async function emitAndExit(obj: unknown, code = 0): Promise<never> {
  const text = JSON.stringify(obj);
  if (text.length <= 16_384) {
    emit(obj);
  } else {
    const path = join(tmpdir(), `fastnet-bench-${process.pid}-${fileSeq++}.json`);
    await Bun.write(path, text);
    emit({ __file: path });
  }
  // Let the small line leave before exiting.
  await new Promise<void>((resolve) => (process.stdout.write("") ? resolve() : process.stdout.once("drain", () => resolve())));
  process.exit(code);
}

/** Lines arriving on stdin (commands from the orchestrator). */
export async function* stdinLines(): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let buf = "";
  for await (const chunk of Bun.stdin.stream()) {
    buf += decoder.decode(chunk, { stream: true });
    let i: number;
    while ((i = buf.indexOf("\n")) >= 0) {
      yield buf.slice(0, i).trim();
      buf = buf.slice(i + 1);
    }
  }
}

/** Resolves at the next macrotask turn (lets timers and I/O run). */
export function tick(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Keeps the event loop awake with a setImmediate loop (the "spin" mode of non-fastnet transports). */
export function keepAwake(): () => void {
  let on = true;
  const loop = (): void => {
    if (on) setImmediate(loop);
  };
  loop();
  return () => {
    on = false;
  };
}
