import { describe, expect, test } from "bun:test";
import { ErrorCode } from "@fastnet/core/protocol";
import fc from "fast-check";
import { ViewSlots } from "./slots.ts";

describe("ViewSlots", () => {
  test("entering entities take the lowest free slots and keep them while they stay", () => {
    const s = new ViewSlots();
    s.update([10, 11, 12], []);
    expect([s.slotOf(10), s.slotOf(11), s.slotOf(12)]).toEqual([0, 1, 2]);
    s.update([13], [11]);
    expect(s.slotOf(13)).toBe(1);
    expect(s.slotOf(11)).toBe(-1);
    expect([s.slotOf(10), s.slotOf(12)]).toEqual([0, 2]);
    expect(s.entityAt(1)).toBe(13);
    expect(s.slotCount).toBe(3);
    s.update([], [12]);
    expect(s.slotCount).toBe(2);
    s.update([], [10, 13]);
    expect(s.slotCount).toBe(0);
    expect(s.size).toBe(0);
  });

  test("assigning an entity twice keeps its slot; releasing an unknown one is a no-op", () => {
    const s = new ViewSlots();
    expect(s.assign(4)).toBe(0);
    expect(s.assign(4)).toBe(0);
    expect(s.release(9)).toBe(false);
    let code: string | undefined;
    try {
      s.assign(-1);
    } catch (err) {
      code = (err as { code?: string }).code;
    }
    expect(code).toBe(ErrorCode.INVALID_ARGUMENT);
  });

  test("random enter/leave sequences keep slots unique, stable and compact", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.array(fc.nat(200), { maxLength: 40 }), fc.array(fc.nat(200), { maxLength: 40 })), { maxLength: 30 }), (steps) => {
        const s = new ViewSlots();
        const set = new Set<number>();
        for (const [enter, leave] of steps) {
          const before = new Map([...set].map((e) => [e, s.slotOf(e)]));
          const entering = enter.filter((e) => !set.has(e) && !leave.includes(e));
          const leaving = leave.filter((e) => set.has(e));
          s.update(entering, leaving);
          for (const e of leaving) set.delete(e);
          for (const e of entering) set.add(e);
          // Stayers keep their slots.
          for (const [e, slot] of before) if (set.has(e)) expect(s.slotOf(e)).toBe(slot);
          const slots = [...set].map((e) => s.slotOf(e));
          expect(new Set(slots).size).toBe(set.size);
          for (const e of set) expect(s.entityAt(s.slotOf(e))).toBe(e);
          expect(s.size).toBe(set.size);
          expect(s.slotCount).toBe(slots.length === 0 ? 0 : Math.max(...slots) + 1);
        }
      }),
      { seed: 5, numRuns: 300 },
    );
  });
});
