/**
 * Observers compose: a server takes one `observer`, and `combineObservers` makes one out of several
 * (trace and access log together), calling each in the order given.
 * @module
 */
import type { WireObserver } from './observer.js';

const HOOKS = [
  'onConnectionOpen',
  'onConnectionClose',
  'onRequestHead',
  'onResponseHead',
  'onExchange',
] as const satisfies ReadonlyArray<keyof WireObserver>;

/**
 * One observer that forwards every hook to each of `observers` that has it. Undefined entries are skipped,
 * and a hook none of them has stays absent, so the wire still skips it for free.
 */
export function combineObservers(
  ...observers: ReadonlyArray<WireObserver | undefined>
): WireObserver | undefined {
  const present = observers.filter((o): o is WireObserver => o !== undefined);
  if (present.length <= 1) return present[0];
  const combined: WireObserver = {};
  for (const hook of HOOKS) {
    const calls = present.filter((o) => o[hook] !== undefined);
    if (calls.length === 0) continue;
    // Each hook keeps its own signature; the cast only spreads arguments through unchanged.
    (combined as Record<string, (...args: unknown[]) => void>)[hook] = (...args: unknown[]) => {
      for (const observer of calls) (observer[hook] as (...a: unknown[]) => void).apply(observer, args);
    };
  }
  return combined;
}
