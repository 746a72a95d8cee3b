import { X509Certificate } from 'node:crypto';
import { chmodSync, lstatSync, readdirSync, readFileSync, statSync, symlinkSync } from 'node:fs';
import { CommanderError } from 'commander';
import { describe, expect, it, vi } from 'vitest';
import { certificatesCommand } from '../../../src/cli/timestamp-cli/certificates-command.js';
import { CliError } from '../../../src/cli/timestamp-cli/output.js';
import { throwInsteadOfExit } from '../../../src/cli/usage-errors.js';
import { OID } from '../../../src/asn1/oids.js';
import { LocalKeySigner } from '../../../src/signers/local-key.js';
import { readPrivateKeyUsagePeriod } from '../../../src/verify/private-key-usage-period.js';
import { parseCertificate } from '../../../src/x509/certificate.js';
import { privateKeyUsagePeriod } from '../../../src/x509/private-key-usage-period.js';
import { decodeCertificatesPem } from '../../helpers/pem.js';
import { tempDir } from '../../helpers/openssl.js';

/** The commander error (an invalid option value) `args` end with, as the CLI reports it. */
async function invalidArgument(args: string[]): Promise<unknown> {
  const command = certificatesCommand(() => ({ format: 'default' }), {
    stdout: () => {},
    stderr: () => {},
  });
  throwInsteadOfExit(command);
  for (const sub of command.commands) sub.configureOutput({ writeErr: () => {} });
  return command.parseAsync(args, { from: 'user' }).then(
    () => undefined,
    (error: unknown) => error,
  );
}

async function run(args: string[]): Promise<unknown> {
  const command = certificatesCommand(() => ({ format: 'default' }), {
    stdout: () => {},
    stderr: () => {},
  });
  try {
    await command.parseAsync(args, { from: 'user' });
  } catch (error) {
    return error;
  }
  return undefined;
}

describe('timestamp-cli certificates --generate-keys', () => {
  it('names the key file it could not write, and why', async () => {
    const dir = tempDir();
    try {
      const missing = dir.path('missing/root.key');
      const error = await run([
        'create',
        '--generate-keys',
        'ecdsa-p256',
        '--root-key',
        missing,
        '--leaf-key',
        dir.path('leaf.key'),
        '--output',
        dir.path('chain.pem'),
      ]);
      expect((error as Error).message).toMatch(
        new RegExp(`^cannot write the new key file ${missing}: ENOENT: no such file or directory`),
      );
    } finally {
      dir.cleanup();
    }
  });
});

describe('timestamp-cli --format json certificates', () => {
  async function runJson(args: string[]): Promise<string> {
    let stdout = '';
    await certificatesCommand(() => ({ format: 'json' }), {
      stdout: (text) => (stdout += text),
      stderr: () => {},
    }).parseAsync(args, { from: 'user' });
    return stdout;
  }

  it('create and csr print where they wrote, and what, as JSON', async () => {
    const dir = tempDir();
    try {
      const keys = ['--root-key', dir.path('root.key'), '--leaf-key', dir.path('leaf.key')];
      const chain = dir.path('chain.pem');
      const created = await runJson([
        'create',
        '--generate-keys',
        'ecdsa-p256',
        ...keys,
        '--output',
        chain,
      ]);
      expect(JSON.parse(created)).toEqual({ Location: chain, Certificates: ['leaf', 'root'] });
      const csr = dir.path('leaf.csr');
      const requested = await runJson(['csr', '--leaf-key', dir.path('leaf.key'), '--output', csr]);
      expect(JSON.parse(requested)).toEqual({ Location: csr });
    } finally {
      dir.cleanup();
    }
  });
});

describe('timestamp-cli certificates never writes its output over a key file', () => {
  it.each([
    ['create, --output the leaf key', 'leaf.key', 'leaf'],
    ['create, --output the root key through a symlink', 'link.pem', 'root'],
  ])('%s', async (_name, output, role) => {
    const dir = tempDir();
    try {
      // Keys made first, so the refusal is not about a key still to be generated.
      const keys = ['create', '--generate-keys', 'ecdsa-p256'];
      const common = ['--root-key', dir.path('root.key'), '--leaf-key', dir.path('leaf.key')];
      expect(await run([...keys, ...common, '--output', dir.path('chain.pem')])).toBeUndefined();
      symlinkSync(dir.path('root.key'), dir.path('link.pem'));
      const before = readFileSync(dir.path(`${role}.key`), 'utf8');
      const error = await run([...keys, ...common, '--output', dir.path(output)]);
      expect(error).toBeInstanceOf(CliError);
      expect((error as CliError).code).toBe('USAGE');
      expect((error as CliError).message).toBe(
        `--output ${dir.path(output)} is the ${role} key file: writing there would destroy the key`,
      );
      expect(readFileSync(dir.path(`${role}.key`), 'utf8')).toBe(before);
    } finally {
      dir.cleanup();
    }
  });

  it('create, --output a key path --generate-keys is about to write', async () => {
    const dir = tempDir();
    try {
      const error = await run([
        'create',
        '--generate-keys',
        'ecdsa-p256',
        '--root-key',
        dir.path('root.key'),
        '--leaf-key',
        dir.path('leaf.key'),
        '--output',
        dir.path('leaf.key'),
      ]);
      expect((error as CliError).message).toMatch(/is the leaf key file/);
      // Refused before anything was made.
      expect(() => readFileSync(dir.path('root.key'))).toThrow(/ENOENT/);
    } finally {
      dir.cleanup();
    }
  });

  it('csr, --output the leaf key', async () => {
    const dir = tempDir();
    try {
      const key = dir.path('leaf.key');
      await run([
        'csr',
        '--generate-keys',
        'ecdsa-p256',
        '--leaf-key',
        key,
        '--output',
        dir.path('a.csr'),
      ]);
      const before = readFileSync(key, 'utf8');
      const error = await run(['csr', '--leaf-key', key, '--output', key]);
      expect((error as CliError).message).toBe(
        `--output ${key} is the leaf key file: writing there would destroy the key`,
      );
      expect(readFileSync(key, 'utf8')).toBe(before);
    } finally {
      dir.cleanup();
    }
  });
});

describe('timestamp-cli certificates writes its output atomically, never through a link', () => {
  it('replaces a symlink at --output instead of writing to the file it points to', async () => {
    const dir = tempDir();
    try {
      const target = dir.write('elsewhere.txt', 'keep me');
      chmodSync(target, 0o600);
      symlinkSync(target, dir.path('chain.pem'));
      const args = ['create', '--generate-keys', 'ecdsa-p256'];
      const keys = ['--root-key', dir.path('root.key'), '--leaf-key', dir.path('leaf.key')];
      expect(await run([...args, ...keys, '--output', dir.path('chain.pem')])).toBeUndefined();
      expect(lstatSync(dir.path('chain.pem')).isSymbolicLink()).toBe(false);
      expect(lstatSync(dir.path('chain.pem')).mode & 0o777).toBe(0o644);
      expect(readFileSync(dir.path('chain.pem'), 'utf8')).toMatch(/^-----BEGIN CERTIFICATE-----/);
      expect(readFileSync(target, 'utf8')).toBe('keep me');
      expect(statSync(target).mode & 0o777).toBe(0o600);
      expect(readdirSync(dir.dir).filter((name) => name.endsWith('.tmp'))).toEqual([]);
    } finally {
      dir.cleanup();
    }
  });
});

describe('timestamp-cli certificates create never writes a notAfter past 9999-12-31T23:59:59Z', () => {
  it.each([
    // A five-digit GeneralizedTime year, which no parser reads.
    ['root-lifetime', '90000000h'],
    // Past JavaScript's last date: the Invalid Date was written as UTCTime "NaNNaNNaNNaNNaNNaNZ".
    ['root-lifetime', '9000000000000h'],
    ['intermediate-lifetime', '90000000h'],
    ['leaf-lifetime', '90000000h'],
  ])('refuses --%s %s before any key is made', async (flag, lifetime) => {
    const dir = tempDir();
    try {
      const error = await run([
        'create',
        '--generate-keys',
        'ecdsa-p256',
        '--root-key',
        dir.path('root.key'),
        '--intermediate-key',
        dir.path('intermediate.key'),
        '--leaf-key',
        dir.path('leaf.key'),
        '--not-before',
        '2026-01-01T00:00:00Z',
        `--${flag}`,
        lifetime,
        '--output',
        dir.path('chain.pem'),
      ]);
      expect(error).toBeInstanceOf(CliError);
      expect((error as CliError).code).toBe('USAGE');
      expect((error as CliError).message).toBe(
        `--${flag} ${lifetime} from 2026-01-01T00:00:00.000Z ends after 9999-12-31T23:59:59Z, ` +
          'the latest notAfter a certificate can hold (RFC 5280 4.1.2.5)',
      );
      expect(readdirSync(dir.dir)).toEqual([]);
    } finally {
      dir.cleanup();
    }
  });

  it('makes a chain whose notAfter is 9999-12-31T23:59:59Z exactly', async () => {
    const dir = tempDir();
    try {
      const error = await run([
        'create',
        '--generate-keys',
        'ecdsa-p256',
        '--root-key',
        dir.path('root.key'),
        '--leaf-key',
        dir.path('leaf.key'),
        '--not-before',
        '9999-12-31T22:59:59Z',
        '--root-lifetime',
        '1h',
        '--leaf-lifetime',
        '1h',
        '--output',
        dir.path('chain.pem'),
      ]);
      expect(error).toBeUndefined();
      const chain = decodeCertificatesPem(readFileSync(dir.path('chain.pem'), 'utf8'));
      for (const der of chain)
        expect(new X509Certificate(der).validTo).toBe('Dec 31 23:59:59 9999 GMT');
    } finally {
      dir.cleanup();
    }
  });

  it('takes --not-before in RFC 3339 only: a zone required, T (or a space) and Z in either case', async () => {
    const dir = tempDir();
    try {
      const keys = ['--root-key', dir.path('root.key'), '--leaf-key', dir.path('leaf.key')];
      // Date's parser took "12" for 2001-12-01, a time without zone as local time, and rolled
      // February 30 over to March.
      for (const notBefore of [
        '12',
        '2025-01-02T03:04:05',
        '2025-01-02T03:04Z',
        '2025-01-02',
        '2025-02-30T00:00:00Z',
        '2025-01-02T24:00:00Z',
        '2025-01-02T03:04:05+0100',
        '+010000-01-01T00:00:00Z',
        '-000001-12-31T00:00:00Z',
      ]) {
        const error = await invalidArgument(['create', ...keys, '--not-before', notBefore]);
        expect(error).toBeInstanceOf(CommanderError);
        expect((error as CommanderError).message).toBe(
          `error: option '--not-before <time>' argument '${notBefore}' is invalid. ` +
            `"${notBefore}" is not an RFC 3339 time (YYYY-MM-DDThh:mm:ss[.fraction] and Z or ±hh:mm)`,
        );
      }
      expect(
        await run([
          'create',
          '--generate-keys',
          'ecdsa-p256',
          ...keys,
          '--not-before',
          '2025-01-02t03:04:05+01:00',
          '--output',
          dir.path('chain.pem'),
        ]),
      ).toBeUndefined();
      for (const der of decodeCertificatesPem(readFileSync(dir.path('chain.pem'), 'utf8')))
        expect(new Date(new X509Certificate(der).validFrom).toISOString()).toBe(
          '2025-01-02T02:04:05.000Z',
        );
      // RFC 3339's note: a space for the T (`date --rfc-3339=seconds` writes it so).
      expect(
        await run([
          'create',
          ...keys,
          '--not-before',
          '2025-01-02 03:04:05Z',
          '--output',
          dir.path('space.pem'),
        ]),
      ).toBeUndefined();
      for (const der of decodeCertificatesPem(readFileSync(dir.path('space.pem'), 'utf8')))
        expect(new Date(new X509Certificate(der).validFrom).toISOString()).toBe(
          '2025-01-02T03:04:05.000Z',
        );
    } finally {
      dir.cleanup();
    }
  });

  it('refuses a --not-before outside the years 0000 to 9999', async () => {
    const dir = tempDir();
    try {
      // Four-digit years an offset takes past either end.
      for (const notBefore of ['0000-01-01T00:00:00+01:00', '9999-12-31T23:59:59-01:00']) {
        const keys = ['--root-key', dir.path('root.key'), '--leaf-key', dir.path('leaf.key')];
        const error = await invalidArgument(['create', ...keys, '--not-before', notBefore]);
        expect(error).toBeInstanceOf(CommanderError);
        expect((error as CommanderError).message).toBe(
          `error: option '--not-before <time>' argument '${notBefore}' is invalid. ` +
            `"${notBefore}" is not in the years 0000 to 9999 (RFC 5280)`,
        );
      }
    } finally {
      dir.cleanup();
    }
  });
});

describe('timestamp-cli certificates refuses an empty name attribute (X.520: 1 or more characters)', () => {
  it.each([
    ['create', '--organization <name>'],
    ['create', '--root-common-name <cn>'],
    ['create', '--intermediate-common-name <cn>'],
    ['create', '--leaf-common-name <cn>'],
    ['csr', '--organization <name>'],
    ['csr', '--common-name <cn>'],
  ])('%s %s "", before any key is made', async (command, option) => {
    const dir = tempDir();
    try {
      const keys =
        command === 'create'
          ? ['--root-key', dir.path('root.key'), '--intermediate-key', dir.path('i.key')]
          : [];
      const error = await invalidArgument([
        command,
        '--generate-keys',
        'ecdsa-p256',
        ...keys,
        '--leaf-key',
        dir.path('leaf.key'),
        option.split(' ')[0]!,
        '',
        '--output',
        dir.path('out.pem'),
      ]);
      expect(error).toBeInstanceOf(CommanderError);
      expect((error as CommanderError).message).toBe(
        `error: option '${option}' argument '' is invalid. a name attribute cannot be empty (X.520)`,
      );
      expect(readdirSync(dir.dir)).toEqual([]);
    } finally {
      dir.cleanup();
    }
  });
});

describe('timestamp-cli certificates create releases every key it opened, whatever fails', () => {
  it.each([
    ['the intermediate key', ['root'], 'missing.key', 'leaf.key'],
    ['the leaf key', ['root', 'intermediate'], 'intermediate.key', 'missing.key'],
  ])(
    'when %s does not exist, the keys opened before it are disposed',
    async (_what, disposed, intermediateKey, leafKey) => {
      const dir = tempDir();
      const dispose = vi.spyOn(LocalKeySigner.prototype, Symbol.asyncDispose);
      try {
        // Existing root, intermediate and leaf keys, made by a first run.
        const keys = ['--root-key', dir.path('root.key'), '--leaf-key', dir.path('leaf.key')];
        const generate = ['create', '--generate-keys', 'ecdsa-p256', ...keys];
        const withIntermediate = ['--intermediate-key', dir.path('intermediate.key')];
        expect(
          await run([...generate, ...withIntermediate, '--output', dir.path('first.pem')]),
        ).toBeUndefined();
        dispose.mockClear();

        const error = await run([
          'create',
          '--root-key',
          dir.path('root.key'),
          '--intermediate-key',
          dir.path(intermediateKey),
          '--leaf-key',
          dir.path(leafKey),
          '--output',
          dir.path('chain.pem'),
        ]);
        expect((error as Error).message).toContain(
          `cannot read key file ${dir.path('missing.key')}`,
        );
        const ids = dispose.mock.contexts.map((signer) => (signer as LocalKeySigner).id);
        expect(ids).toEqual(disposed.map((name) => `file:${dir.path(`${name}.key`)}`));
      } finally {
        dispose.mockRestore();
        dir.cleanup();
      }
    },
  );

  it('disposes the others when one disposal fails, then reports that failure', async () => {
    const dir = tempDir();
    const dispose = vi
      .spyOn(LocalKeySigner.prototype, Symbol.asyncDispose)
      .mockRejectedValueOnce(new Error('logout failed'));
    try {
      const error = await run([
        'create',
        '--generate-keys',
        'ecdsa-p256',
        '--root-key',
        dir.path('root.key'),
        '--leaf-key',
        dir.path('leaf.key'),
        '--output',
        dir.path('chain.pem'),
      ]);
      expect((error as Error).message).toBe('logout failed');
      expect(dispose).toHaveBeenCalledTimes(2);
    } finally {
      dispose.mockRestore();
      dir.cleanup();
    }
  });
});

describe('timestamp-cli certificates: a key that fails to close after a failure does not hide it', () => {
  /** The error `args` end with, and what the command wrote to stderr. */
  async function runCapturing(args: string[]) {
    let stderr = '';
    const command = certificatesCommand(() => ({ format: 'default' }), {
      stdout: () => {},
      stderr: (text) => (stderr += text),
    });
    const error = await command.parseAsync(args, { from: 'user' }).then(
      () => undefined,
      (failure: unknown) => failure,
    );
    return { error, stderr };
  }

  it('create: the missing key is the error, the close failure a warning', async () => {
    const dir = tempDir();
    const dispose = vi
      .spyOn(LocalKeySigner.prototype, Symbol.asyncDispose)
      .mockRejectedValueOnce(new Error('logout failed'));
    try {
      const { error, stderr } = await runCapturing([
        'create',
        '--generate-keys',
        'ecdsa-p256',
        '--root-key',
        dir.path('root.key'),
        // A directory: not a key file, and not one --generate-keys can write.
        '--leaf-key',
        dir.dir,
        '--output',
        dir.path('chain.pem'),
      ]);
      expect((error as Error).message).toContain(`cannot read key file ${dir.dir}`);
      expect(stderr).toBe(
        'warning: releasing the keys after that failure also failed: logout failed\n',
      );
      expect(dispose).toHaveBeenCalledTimes(1);
    } finally {
      dispose.mockRestore();
      dir.cleanup();
    }
  });

  it('csr: the signing failure is the error, the close failure a warning', async () => {
    const dir = tempDir();
    const sign = vi
      .spyOn(LocalKeySigner.prototype, 'sign')
      .mockRejectedValueOnce(new Error('token removed'));
    const dispose = vi
      .spyOn(LocalKeySigner.prototype, Symbol.asyncDispose)
      .mockRejectedValueOnce(new Error('logout failed'));
    try {
      const { error, stderr } = await runCapturing([
        'csr',
        '--generate-keys',
        'ecdsa-p256',
        '--leaf-key',
        dir.path('leaf.key'),
        '--output',
        dir.path('leaf.csr'),
      ]);
      expect((error as Error).message).toBe('token removed');
      expect(stderr).toBe(
        'warning: releasing the keys after that failure also failed: logout failed\n',
      );
    } finally {
      sign.mockRestore();
      dispose.mockRestore();
      dir.cleanup();
    }
  });
});

describe('timestamp-cli certificates --country', () => {
  it('writes C before O and CN in every subject (create) and refuses what is not ISO 3166 alpha-2', async () => {
    const dir = tempDir();
    try {
      const keys = ['--root-key', dir.path('root.key'), '--leaf-key', dir.path('leaf.key')];
      const common = ['create', '--generate-keys', 'ecdsa-p256', ...keys];
      expect(
        await run([
          ...common,
          ...['--country', 'DE', '--organization', 'Example SA', '--output', dir.path('c.pem')],
        ]),
      ).toBeUndefined();
      const [leaf, root] = decodeCertificatesPem(readFileSync(dir.path('c.pem'), 'utf8'));
      expect(new X509Certificate(leaf!).subject).toMatch(/^C=DE\nO=Example SA\nCN=/);
      expect(new X509Certificate(root!).subject).toMatch(/^C=DE\nO=Example SA\nCN=/);
      for (const country of ['de', 'DEU', '', 'D1']) {
        const error = await invalidArgument([...common, '--country', country]);
        expect((error as CommanderError).message, country).toBe(
          `error: option '--country <code>' argument '${country}' is invalid. a country is two capital letters of ISO 3166, e.g. DE`,
        );
      }
    } finally {
      dir.cleanup();
    }
  });
});

describe('timestamp-cli certificates create --leaf-private-key-usage-period', () => {
  const keysIn = (dir: ReturnType<typeof tempDir>) => [
    '--generate-keys',
    'ecdsa-p256',
    '--root-key',
    dir.path('root.key'),
    '--intermediate-key',
    dir.path('intermediate.key'),
    '--leaf-key',
    dir.path('leaf.key'),
  ];
  /** `certificates create` with fresh keys in `dir` and `flags`, the chain to dir/chain.pem. */
  const create = (dir: ReturnType<typeof tempDir>, ...flags: string[]) => [
    'create',
    ...keysIn(dir),
    ...flags,
    ...['--output', dir.path('chain.pem')],
  ];
  /** The certificates create wrote, leaf first. */
  const chainIn = (dir: ReturnType<typeof tempDir>) =>
    decodeCertificatesPem(readFileSync(dir.path('chain.pem'), 'utf8')).map(parseCertificate);

  it("writes the leaf's privateKeyUsagePeriod, non-critical, from its notBefore; no other certificate has one", async () => {
    const dir = tempDir();
    try {
      const error = await run(
        create(
          dir,
          ...['--not-before', '2026-01-01T00:00:00Z', '--leaf-lifetime', '8760h'],
          ...['--leaf-private-key-usage-period', '2190h'],
        ),
      );
      expect(error).toBeUndefined();
      const [leaf, ...issuers] = chainIn(dir);
      expect(privateKeyUsagePeriod(leaf!)).toEqual({
        notBefore: new Date('2026-01-01T00:00:00Z'),
        notAfter: new Date('2026-04-02T06:00:00Z'),
      });
      const extension = leaf!.extensions.find(({ oid }) => oid === OID.privateKeyUsagePeriod);
      expect(extension?.critical).toBe(false);
      for (const issuer of issuers) expect(privateKeyUsagePeriod(issuer)).toBeUndefined();
      // The verifier reads the same bounds from the same bytes.
      expect(readPrivateKeyUsagePeriod(Buffer.from(extension!.value))).toEqual(
        privateKeyUsagePeriod(leaf!),
      );
    } finally {
      dir.cleanup();
    }
  });

  it("ends the period with the leaf's validity when the issuer's cuts the leaf short", async () => {
    const dir = tempDir();
    try {
      const error = await run(
        create(
          dir,
          ...['--not-before', '2026-01-01T00:00:00Z', '--intermediate-lifetime', '5h'],
          ...['--leaf-private-key-usage-period', '10h'],
        ),
      );
      expect(error).toBeUndefined();
      const [leaf] = chainIn(dir);
      expect(privateKeyUsagePeriod(leaf!)?.notAfter).toEqual(new Date('2026-01-01T05:00:00Z'));
    } finally {
      dir.cleanup();
    }
  });

  it('writes no privateKeyUsagePeriod without the flag', async () => {
    const dir = tempDir();
    try {
      expect(await run(create(dir))).toBeUndefined();
      for (const certificate of chainIn(dir))
        expect(privateKeyUsagePeriod(certificate)).toBeUndefined();
    } finally {
      dir.cleanup();
    }
  });

  const TOO_SHORT =
    'the period the leaf key may sign for must be at least 1s (certificates hold whole seconds)';
  it.each([
    ['0', TOO_SHORT],
    ['500ms', TOO_SHORT],
    ['-1h', 'invalid duration "-1h": negative: no option takes a negative duration'],
    ['1y', 'invalid duration "1y": unknown unit "y" (one of ns, us, µs, ms, s, m, h)'],
  ])('refuses %s before any key is made', async (period, reason) => {
    const dir = tempDir();
    try {
      const error = await invalidArgument(create(dir, '--leaf-private-key-usage-period', period));
      expect(error).toBeInstanceOf(CommanderError);
      expect((error as CommanderError).message).toBe(
        `error: option '--leaf-private-key-usage-period <duration>' argument '${period}' is invalid. ${reason}`,
      );
      expect(readdirSync(dir.dir)).toEqual([]);
    } finally {
      dir.cleanup();
    }
  });

  it.each([
    ['--root-lifetime', '0s', 'root validity'],
    ['--intermediate-lifetime', '999ms', 'intermediate validity'],
    ['--leaf-lifetime', '0', 'leaf validity'],
  ])(
    'refuses %s %s, a certificate that ends as it begins, before any key is made',
    async (flag, value, what) => {
      const dir = tempDir();
      try {
        const error = await invalidArgument(create(dir, flag, value));
        expect((error as CommanderError).message).toBe(
          `error: option '${flag} <duration>' argument '${value}' is invalid. the ${what} must be at least 1s (certificates hold whole seconds)`,
        );
        expect(readdirSync(dir.dir)).toEqual([]);
      } finally {
        dir.cleanup();
      }
    },
  );

  it('refuses a period longer than --leaf-lifetime before any key is made', async () => {
    const dir = tempDir();
    try {
      const error = await run(
        create(dir, '--leaf-lifetime', '24h', '--leaf-private-key-usage-period', '25h'),
      );
      expect(error).toBeInstanceOf(CliError);
      expect((error as CliError).code).toBe('USAGE');
      expect((error as CliError).message).toBe(
        "--leaf-private-key-usage-period 25h is longer than --leaf-lifetime 24h: the leaf key cannot sign past the leaf's notAfter",
      );
      expect(readdirSync(dir.dir)).toEqual([]);
    } finally {
      dir.cleanup();
    }
  });
});
