/**
 * The O(n·m) reference: every observer tests every entity, with the same
 * enter / leave rules as InterestManager. The property tests compare the two;
 * the benchmark measures the grid against it. Written to be fast for what it
 * is (typed arrays, no allocation per tick), so the comparison is fair.
 */

export class NaiveInterest {
  private x = new Float64Array(64);
  private y = new Float64Array(64);
  private z = new Float64Array(64);
  private alive = new Uint8Array(64);
  /** Live entity ids, dense. */
  private ids: number[] = [];
  private where = new Int32Array(64).fill(-1);
  private readonly obs = new Map<number, { x: number; y: number; z: number; enter2: number; leave2: number; member: Uint8Array; members: number[]; spare: number[]; entered: number[]; left: number[] }>();

  constructor(readonly enterRadius: number, readonly leaveRadius: number) {}

  private room(id: number): void {
    if (id < this.alive.length) return;
    let cap = this.alive.length;
    while (cap <= id) cap *= 2;
    const f = (a: Float64Array): Float64Array<ArrayBuffer> => {
      const b = new Float64Array(cap);
      b.set(a);
      return b;
    };
    this.x = f(this.x);
    this.y = f(this.y);
    this.z = f(this.z);
    const al = new Uint8Array(cap);
    al.set(this.alive);
    this.alive = al;
    const w = new Int32Array(cap).fill(-1);
    w.set(this.where);
    this.where = w;
    for (const o of this.obs.values()) {
      const m = new Uint8Array(cap);
      m.set(o.member);
      o.member = m;
    }
  }

  setEntity(id: number, x: number, y: number, z = 0): void {
    this.room(id);
    this.x[id] = x;
    this.y[id] = y;
    this.z[id] = z;
    if (this.alive[id] === 0) {
      this.alive[id] = 1;
      this.where[id] = this.ids.length;
      this.ids.push(id);
    }
  }

  removeEntity(id: number): void {
    if (id >= this.alive.length || this.alive[id] === 0) return;
    this.alive[id] = 0;
    const i = this.where[id]!;
    const last = this.ids.pop()!;
    if (last !== id) {
      this.ids[i] = last;
      this.where[last] = i;
    }
    this.where[id] = -1;
  }

  setObserver(id: number, x: number, y: number, z = 0): void {
    const o = this.obs.get(id);
    if (o !== undefined) {
      o.x = x;
      o.y = y;
      o.z = z;
      return;
    }
    this.obs.set(id, {
      x, y, z, enter2: this.enterRadius ** 2, leave2: this.leaveRadius ** 2, member: new Uint8Array(this.alive.length), members: [], spare: [], entered: [], left: [],
    });
  }

  update(): void {
    const { x, y, z, ids } = this;
    for (const o of this.obs.values()) {
      o.entered.length = 0;
      o.left.length = 0;
      const member = o.member;
      // Removed entities leave.
      for (const m of o.members) {
        if (this.alive[m] === 0) {
          member[m] = 0;
          o.left.push(m);
        }
      }
      const members = o.spare;
      members.length = 0;
      for (let i = 0; i < ids.length; i++) {
        const e = ids[i]!;
        const dx = x[e]! - o.x;
        const dy = y[e]! - o.y;
        const dz = z[e]! - o.z;
        const d2 = dx * dx + dy * dy + dz * dz;
        if (member[e] === 1) {
          if (d2 <= o.leave2) members.push(e);
          else {
            member[e] = 0;
            o.left.push(e);
          }
        } else if (d2 <= o.enter2) {
          member[e] = 1;
          members.push(e);
          o.entered.push(e);
        }
      }
      o.spare = o.members;
      o.members = members;
    }
  }

  visible(id: number): number[] {
    return this.obs.get(id)?.members ?? [];
  }

  entered(id: number): number[] {
    return this.obs.get(id)?.entered ?? [];
  }

  left(id: number): number[] {
    return this.obs.get(id)?.left ?? [];
  }
}
