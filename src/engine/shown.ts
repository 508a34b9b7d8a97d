// How an argument check's error message shows a value it rejects, whatever its type: numbers, strings and the other
// primitives as themselves, typed arrays and arrays by kind and length, other objects as (short) JSON. A template
// literal would print an object as "[object Object]" and hide what was passed.

/**
 * A rejected value, for an error message.
 * @example
 *   shown(-1);                  // '-1'
 *   shown(new Float32Array(3)); // 'Float32Array(3)'
 *   shown({ h: 2 });            // '{"h":2}'
 */
export function shown(v: unknown): string {
  if (v === null || v === undefined || typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (typeof v === 'function') return 'a function';
  if (typeof v === 'symbol') return v.toString();
  if (ArrayBuffer.isView(v)) return `${v.constructor.name}(${(v as unknown as ArrayLike<unknown>).length})`;
  if (Array.isArray(v)) return `an array of ${v.length}`;
  try {
    const json = JSON.stringify(v);
    return json.length > 80 ? `${json.slice(0, 77)}...` : json;
  } catch {
    return 'an object that cannot be shown';
  }
}
