import { describe, expect, it } from 'vitest';
import { listenBacklog } from '../../../src/server/listeners.js';

describe('listenBacklog', () => {
  it("is the kernel's somaxconn, as Go's net package reads it", () => {
    expect(listenBacklog(() => '4096\n')).toBe(4096);
    expect(listenBacklog(() => '65535')).toBe(65535);
  });

  it("falls back to Node's 511 where somaxconn cannot be read or makes no sense", () => {
    expect(listenBacklog(() => '0')).toBe(511);
    expect(listenBacklog(() => 'many')).toBe(511);
    expect(
      listenBacklog(() => {
        throw new Error('ENOENT: no /proc');
      }),
    ).toBe(511);
  });
});
