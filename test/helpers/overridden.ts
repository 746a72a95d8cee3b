/** `target` with some of its members replaced by `overrides`; the others are read through. */
export function overridden<T extends object>(target: T, overrides: Partial<T>): T {
  return new Proxy(target, {
    get: (object, name) =>
      (overrides as Record<string | symbol, unknown>)[name] ?? Reflect.get(object, name),
  });
}
