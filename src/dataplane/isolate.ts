/**
 * Finds the items that make a configuration invalid, by group testing:
 * `passes(included)` renders and checks a configuration made of exactly the
 * included items. Items are added in halves, so k offenders among n items
 * cost about k·log2(n) checks. Returns undefined when the configuration fails
 * even with no items (the fault is not in any item).
 */
export async function findOffenders<T>(
  items: T[],
  passes: (included: T[]) => Promise<boolean>,
): Promise<{ good: T[]; offenders: T[] } | undefined> {
  if (!(await passes([]))) return undefined;
  const good: T[] = [];
  const offenders: T[] = [];
  const add = async (candidates: T[]): Promise<void> => {
    if (candidates.length === 0) return;
    if (await passes([...good, ...candidates])) {
      good.push(...candidates);
      return;
    }
    if (candidates.length === 1) {
      offenders.push(candidates[0]!);
      return;
    }
    const mid = Math.ceil(candidates.length / 2);
    await add(candidates.slice(0, mid));
    await add(candidates.slice(mid));
  };
  await add(items);
  return { good, offenders };
}
