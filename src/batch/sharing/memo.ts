// Get-or-make for the maps and caches of sharing: one place for the pattern.

interface KeyedStore<K, V> {
  get(key: K): V | undefined;
  set(key: K, value: V): unknown;
}

/** The value kept under `key`, made and kept when missing. */
export function getOrMake<K, V>(map: KeyedStore<K, V>, key: K, make: () => V): V {
  let value = map.get(key);
  if (value === undefined) {
    value = make();
    map.set(key, value);
  }
  return value;
}

/** As getOrMake, for a cache of at most `max` entries: dropped whole when full (a day's values repeat a lot). */
export function cachedUpTo<K, V>(map: Map<K, V>, max: number, key: K, make: () => V): V {
  let value = map.get(key);
  if (value === undefined) {
    if (map.size >= max) map.clear();
    value = make();
    map.set(key, value);
  }
  return value;
}
