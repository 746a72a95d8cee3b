import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { ProfileConfig } from '../../../src/config/profiles.js';
import { resolveServeConfig } from '../../../src/config/resolve.js';
import { createAuthority } from '../../../src/runtime/authority.js';

describe("a named profile's start-up warnings", () => {
  it('name the profile, the CSBR key warnings too', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => lines.push(line) });
    // A token digest other than the leaf's (the memory chain is signed with SHA-256): a CSBR warning.
    const profile = {
      name: 'rsa',
      source: 'config file /tsa.yaml',
      policyOids: ['1.2.3.4.100'],
      signer: { kind: 'memory', hash: 'sha512' },
      certificateChainPath: '',
      accuracySeconds: 1,
      includeChain: false,
      qualified: false,
      previousChains: [],
      options: {},
    } satisfies ProfileConfig;
    const tsa = await createAuthority(resolveServeConfig({}), logger, {}, [], profile);
    await tsa.signer[Symbol.asyncDispose]();
    const warnings = lines.map((line) => (JSON.parse(line) as { msg: string }).msg);
    expect(warnings).toContainEqual(expect.stringMatching(/^profile rsa: the token digest SHA512/));
    // How to set the digest there: the profile's own key, not the top-level flag.
    expect(warnings).toContainEqual(
      expect.stringMatching(/\(set the profile's timestamp-signer-hash: sha256\)$/),
    );
    for (const warning of warnings) expect(warning).toMatch(/^profile rsa: /);
  });
});
