/**
 * SO_RCVBUF / SO_SNDBUF through libc's setsockopt/getsockopt via bun:ffi,
 * because Bun's UDP socket has no API for them. Best effort: every failure
 * (no ffi, no libc, no fd, a refused option) becomes a note, never a throw.
 */

type Kind = "recv" | "send";

interface Libc {
  setsockopt(fd: number, level: number, name: number, value: unknown, len: number): number;
  getsockopt(fd: number, level: number, name: number, value: unknown, len: unknown): number;
  ptr(view: Int32Array | Uint32Array): unknown;
}

interface Consts {
  SOL_SOCKET: number;
  SO_SNDBUF: number;
  SO_RCVBUF: number;
  /** Linux only, needs CAP_NET_ADMIN: ignores net.core.rmem_max / wmem_max. */
  SO_SNDBUFFORCE?: number;
  SO_RCVBUFFORCE?: number;
}

const CONSTS: Record<string, Consts> = {
  linux: { SOL_SOCKET: 1, SO_SNDBUF: 7, SO_RCVBUF: 8, SO_SNDBUFFORCE: 32, SO_RCVBUFFORCE: 33 },
  darwin: { SOL_SOCKET: 0xffff, SO_SNDBUF: 0x1001, SO_RCVBUF: 0x1002 },
  freebsd: { SOL_SOCKET: 0xffff, SO_SNDBUF: 0x1001, SO_RCVBUF: 0x1002 },
};

let libc: Libc | null | undefined;
let libcNote = "";
// Scratch for the option value and its length: one call at a time, no allocation per call.
const intBuf = new Int32Array(1);
const lenBuf = new Uint32Array(1);

function loadLibc(): Libc | null {
  if (libc !== undefined) return libc;
  libc = null;
  if (CONSTS[process.platform] === undefined) {
    libcNote = `setsockopt is not wired for platform ${process.platform}`;
    return null;
  }
  try {
    // Loaded lazily so a runtime without bun:ffi (or a sandbox that forbids it) still binds.
    const ffi = require("bun:ffi") as typeof import("bun:ffi");
    const { FFIType } = ffi;
    const names = process.platform === "linux" ? ["libc.so.6", "libc.so"] : [`libc.${ffi.suffix}`, "libSystem.dylib"];
    let lastErr: unknown;
    for (const name of names) {
      try {
        const lib = ffi.dlopen(name, {
          setsockopt: { args: [FFIType.i32, FFIType.i32, FFIType.i32, FFIType.ptr, FFIType.u32], returns: FFIType.i32 },
          getsockopt: { args: [FFIType.i32, FFIType.i32, FFIType.i32, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
        });
        libc = {
          setsockopt: lib.symbols.setsockopt as Libc["setsockopt"],
          getsockopt: lib.symbols.getsockopt as Libc["getsockopt"],
          ptr: (v) => ffi.ptr(v),
        };
        return libc;
      } catch (err) {
        lastErr = err;
      }
    }
    libcNote = `cannot load libc through bun:ffi: ${String(lastErr)}`;
  } catch (err) {
    libcNote = `bun:ffi is unavailable: ${String(err)}`;
  }
  return null;
}

function usableFd(fd: unknown): fd is number {
  return typeof fd === "number" && Number.isInteger(fd) && fd >= 0;
}

/** Effective buffer size as the kernel reports it (Linux: twice the value set), or undefined. */
export function getSocketBuffer(fd: unknown, kind: Kind): number | undefined {
  const lib = loadLibc();
  const c = CONSTS[process.platform];
  if (lib === null || c === undefined || !usableFd(fd)) return undefined;
  intBuf[0] = 0;
  lenBuf[0] = 4;
  const rc = lib.getsockopt(fd, c.SOL_SOCKET, kind === "recv" ? c.SO_RCVBUF : c.SO_SNDBUF, lib.ptr(intBuf), lib.ptr(lenBuf));
  return rc === 0 ? intBuf[0] : undefined;
}

export type SetResult = { ok: true; effective: number } | { ok: false; note: string; effective?: number };

/**
 * Requests `bytes` for the buffer. Falls back to the *FORCE option (root /
 * CAP_NET_ADMIN on Linux) when the sysctl cap (net.core.rmem_max / wmem_max)
 * clamps the plain one. ok = the size read back is what an uncapped request
 * gives (on Linux 2 x bytes, so a request clamped by the sysctl is reported).
 */
export function setSocketBuffer(fd: unknown, kind: Kind, bytes: number): SetResult {
  const lib = loadLibc();
  const c = CONSTS[process.platform];
  if (lib === null || c === undefined) return { ok: false, note: `${kind} buffer not set: ${libcNote}` };
  if (!usableFd(fd)) return { ok: false, note: `${kind} buffer not set: the socket exposes no file descriptor` };
  const plain = kind === "recv" ? c.SO_RCVBUF : c.SO_SNDBUF;
  const force = kind === "recv" ? c.SO_RCVBUFFORCE : c.SO_SNDBUFFORCE;
  // Linux doubles the value it stores (room for its bookkeeping): an uncapped request reads back as 2x.
  const want = process.platform === "linux" ? Math.min(bytes * 2, 0x7fffffff) : bytes;
  intBuf[0] = bytes;
  const rc = lib.setsockopt(fd, c.SOL_SOCKET, plain, lib.ptr(intBuf), 4);
  let effective = getSocketBuffer(fd, kind);
  if (effective !== undefined && effective >= want) return { ok: true, effective };
  if (force !== undefined) {
    intBuf[0] = bytes;
    lib.setsockopt(fd, c.SOL_SOCKET, force, lib.ptr(intBuf), 4);
    effective = getSocketBuffer(fd, kind);
    if (effective !== undefined && effective >= want) return { ok: true, effective };
  }
  const sysctl = kind === "recv" ? "net.core.rmem_max" : "net.core.wmem_max";
  const note =
    rc !== 0
      ? `${kind} buffer: setsockopt failed (rc ${rc})`
      : `${kind} buffer: asked ${bytes} B, kernel reports ${effective ?? "unknown"} B, expected ${want} B (capped by ${sysctl}; raise it or run with CAP_NET_ADMIN)`;
  return effective === undefined ? { ok: false, note } : { ok: false, note, effective };
}
