import { rmSync, writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { readConfigFile } from '../../../../src/config/config-file.js';
import { resolveLayers } from '../../../../src/config/resolve.js';
import { decodeConfig, encodeConfig } from '../../../../src/runtime/cluster/messages.js';
import {
  checkPinnedFiles,
  filesToPin,
  pinFiles,
} from '../../../../src/runtime/cluster/pinned-files.js';
import { tempDir } from '../../../helpers/openssl.js';

const dirs: ReturnType<typeof tempDir>[] = [];
afterEach(() => dirs.splice(0).forEach((dir) => dir.cleanup()));

function fromFile(lines: string[]) {
  const dir = tempDir();
  dirs.push(dir);
  const path = dir.write('tsa.yaml', [...lines, ''].join('\n'));
  return { dir, config: resolveLayers([readConfigFile(path)]).config };
}

describe('what the primary sends a worker (tsa:setup)', () => {
  it('the configuration arrives whole: profiles, previous chains and their retired Dates', () => {
    const { config } = fromFile([
      'timestamp-signer: file',
      'file-signer-key-path: /k/key.pem',
      'file-signer-passwd: secret',
      'certificate-chain-path: /k/chain.pem',
      'previous-chains: [{path: /k/old.pem, retired: 2025-01-31T00:00:00Z}]',
      'profiles:',
      '  - name: x',
      '    policy-oids: [1.2.3.4.200]',
      '    timestamp-signer: memory',
    ]);
    const decoded = decodeConfig(encodeConfig(config));
    expect(decoded).toEqual(config);
    expect(decoded.previousChains?.[0]?.retired).toBeInstanceOf(Date);
  });

  it('pins the keys, keysets, chains, previous chains and ledger key; not the credentials', () => {
    const { config } = fromFile([
      'timestamp-signer: file',
      'file-signer-key-path: /k/key.pem',
      'file-signer-passwd-file: /s/passwd',
      'certificate-chain-path: /k/chain.pem',
      'previous-chains: [/k/old.pem]',
      'ledger-url: postgres://tsa@db/tsa',
      'ledger-password-file: /s/db',
      'ledger-key: /k/log.pem',
      'ledger-origin: tsa.test/log',
      'profiles:',
      '  - name: x',
      '    policy-oids: [1.2.3.4.200]',
      '    timestamp-signer: tink',
      '    tink-keyset-path: /k/keyset.json',
      '    tink-key-resource: hcvault://vault/transit/keys/kek',
      '    tink-hcvault-token-file: /s/token',
      '    certificate-chain-path: /k/x-chain.pem',
      '    previous-chains: [/k/x-old.pem]',
      '  - name: y',
      '    policy-oids: [1.2.3.4.300]',
      '    timestamp-signer: kms',
      '    kms-key-resource: awskms:///alias/tsa',
      '    certificate-chain-path: /k/chain.pem',
      '  - name: z',
      '    policy-oids: [1.2.3.4.400]',
      '    timestamp-signer: memory',
    ]);
    expect(filesToPin(config)).toEqual([
      { what: '--file-signer-key-path', path: '/k/key.pem' },
      { what: '--certificate-chain-path', path: '/k/chain.pem' },
      { what: 'previous-chains', path: '/k/old.pem' },
      { what: 'profile x: --tink-keyset-path', path: '/k/keyset.json' },
      { what: 'profile x: --certificate-chain-path', path: '/k/x-chain.pem' },
      { what: 'profile x: previous-chains', path: '/k/x-old.pem' },
      { what: '--ledger-key', path: '/k/log.pem' },
    ]);
  });

  it('a worker whose files are not as the primary read them refuses, naming the file', async () => {
    const { dir } = fromFile([]);
    const chain = dir.write('chain.pem', 'chain as the server started');
    const { config } = fromFile([
      'timestamp-signer: kms',
      'kms-key-resource: awskms:///alias/tsa',
      `certificate-chain-path: ${chain}`,
      `previous-chains: [${dir.path('old.pem')}]`,
    ]);
    const pinned = await pinFiles(config);
    await expect(checkPinnedFiles(pinned)).resolves.toBeUndefined();

    writeFileSync(chain, 'chain as a Secret update left it');
    await expect(checkPinnedFiles(pinned)).rejects.toThrow(
      `--certificate-chain-path ${chain} is not the file the server started with; changing the ` +
        'configuration takes a restart of the whole server',
    );
    writeFileSync(chain, 'chain as the server started');
    // Missing when the primary read it, there now: not the file the server started with either.
    writeFileSync(dir.path('old.pem'), 'a chain added since');
    await expect(checkPinnedFiles(pinned)).rejects.toThrow(
      `previous-chains ${dir.path('old.pem')} is not the file`,
    );
    rmSync(chain);
    await expect(checkPinnedFiles(pinned)).rejects.toThrow(`${chain} is not the file`);
  });
});
