import { afterEach, describe, expect, it } from 'vitest';
import { loadServeConfig } from '../../../src/config/load.js';
import { ConfigError, parseOptionValue } from '../../../src/config/resolve.js';
import type { OptionKind, OptionSpec } from '../../../src/config/option-spec.js';
import { MASK, formatConfig } from '../../../src/config/print-config.js';
import { SERVE_OPTIONS } from '../../../src/config/schema.js';
import { tempDir } from '../../helpers/openssl.js';

/**
 * A secret's value (a password, a token) never appears in an error, whatever layer brought it
 * (config file, environment, flags) and however it is wrong, nor does a source line holding one.
 */
const SECRET = 'Sup3r-s3cret-value';
const secretOptions = (Object.values(SERVE_OPTIONS) as OptionSpec<unknown>[]).filter(
  (spec) => spec.secret,
);

const dirs: ReturnType<typeof tempDir>[] = [];
afterEach(() => dirs.splice(0).forEach((dir) => dir.cleanup()));

function loadFile(text: string, env: NodeJS.ProcessEnv = {}): unknown {
  const dir = tempDir();
  dirs.push(dir);
  const path = dir.write('timestamp-server.yaml', text);
  return loadServeConfig({ flags: {}, env, configPath: path, searchDirs: [] });
}

function errorOf(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('secret options are known', () => {
  it('include the file signer password and the Vault token', () => {
    expect(secretOptions.map((spec) => spec.flag)).toEqual(
      expect.arrayContaining(['file-signer-passwd', 'tink-hcvault-token']),
    );
  });
});

describe.each(secretOptions.map((spec) => [spec.flag, spec] as const))(
  'the value of secret %s is never in an error',
  (flag) => {
    const cases: [string, string, RegExp][] = [
      [
        'of the wrong type in a config file',
        `${flag}: ["${SECRET}", "x"]\n`,
        new RegExp(`invalid value for key "${flag}": \\(not shown: secret; expected a string\\)`),
      ],
      [
        'on a line with a YAML syntax error (a bad escape)',
        `port: 3000\n${flag}: "${SECRET}\\q"\n`,
        /cannot parse: invalid escape sequence in a double-quoted string \(BAD_DQ_ESCAPE\) at line 2, column \d+/,
      ],
      [
        'on a line with a YAML syntax error (an unclosed quote)',
        `${flag}: "${SECRET}\nport: 3000\n`,
        /cannot parse: .* at line \d+, column \d+$/,
      ],
      [
        'on a line with a YAML syntax error (a tab)',
        `port: 1\n\t${flag}: ${SECRET}\n`,
        /cannot parse: Tabs are not allowed as indentation at line 2, column 1$/,
      ],
      [
        'in a duplicated key',
        `${flag}: ${SECRET}-1\nport: 1\n${flag}: ${SECRET}-2\n`,
        /cannot parse: Map keys must be unique at line 3, column 1$/,
      ],
      [
        'as a plain value starting with *, an alias that names no anchor',
        `port: 3000\n${flag}: *${SECRET}\n`,
        /cannot parse: an alias \(a plain value starting with \*\) names no anchor before it at line 2, column \d+; quote a value that starts with \*$/,
      ],
      [
        'as a key, pasted without its own key',
        `port: 3000\n${SECRET}: x\n`,
        /unknown key \(not shown: not an option name\) at line 2, column 1$/,
      ],
      [
        'as a key in a profile',
        `profiles:\n  - name: a\n    policy-oids: [1.2.3]\n    ${SECRET}: x\n`,
        /profile "a": unknown key \(not shown: not an option name\)$/,
      ],
      [
        'in a JSON config file with a syntax error',
        `{"${flag}": "${SECRET}\\x"}`,
        /cannot parse: invalid escape sequence .* at line 1/,
      ],
    ];
    it.each(cases)('%s', (_what, text, message) => {
      const error = errorOf(() => loadFile(text));
      expect(error).toMatch(message);
      expect(error).not.toContain(SECRET);
      expect(error).not.toContain('Sup3r');
    });

    it('of any kind, given by the environment or a flag', () => {
      const spec = secretOptions.find((option) => option.flag === flag) as OptionSpec<unknown>;
      const kinds: OptionKind[] = ['boolean', 'integer', 'duration', 'size', 'list', 'string'];
      for (const kind of kinds) {
        for (const name of [flag.toUpperCase(), `--${flag}`]) {
          const error = errorOf(() => parseOptionValue({ ...spec, kind }, { SECRET }, name));
          expect(error).toContain(`invalid value for ${name}: (not shown: secret`);
          expect(error).not.toContain(SECRET);
        }
      }
      const withChoices = { ...spec, choices: ['a', 'b'] };
      expect(errorOf(() => parseOptionValue(withChoices, SECRET))).not.toContain(SECRET);
    });
  },
);

describe('a config file key that is a list or a map', () => {
  it('is refused by its position, never quoted, and Node warns nothing (its warning quoted it)', () => {
    const warnings: unknown[] = [];
    const record = (warning: unknown) => warnings.push(warning);
    process.on('warning', record);
    try {
      for (const text of [
        `{file-signer-passwd: ${SECRET}}: x\n`,
        `[${SECRET}]: x\n`,
        // An alias of a map, as a key.
        `a: &k {file-signer-passwd: ${SECRET}}\n*k : x\n`,
      ]) {
        const error = errorOf(() => loadFile(text));
        expect(error).toMatch(
          /: a key that is a list or a map at line [12], column 1 \(not shown\): keys are option names$/,
        );
        expect(error).not.toContain(SECRET);
      }
    } finally {
      process.off('warning', record);
    }
    expect(warnings).toEqual([]);
  });
});

describe('a config file that is not UTF-8', () => {
  it('is refused, where its Latin-1 bytes were read as U+FFFD (a password mangled)', () => {
    const dir = tempDir();
    dirs.push(dir);
    const path = dir.write('latin1.yaml', Buffer.from('file-signer-passwd: "caf\xe9"\n', 'latin1'));
    expect(
      errorOf(() => loadServeConfig({ flags: {}, env: {}, configPath: path, searchDirs: [] })),
    ).toBe(
      `config file ${path}: not UTF-8 text (saved in another encoding, such as Latin-1?): save it as UTF-8`,
    );
  });
});

describe('a config file key that names no option', () => {
  it('is named, with its position, where it looks like an option name (a typo)', () => {
    expect(errorOf(() => loadFile('port: 1\ntimestamp-signr: kms\n'))).toMatch(
      /: unknown key "timestamp-signr" at line 2, column 1$/,
    );
    const long = `a${'-b'.repeat(40)}`;
    expect(errorOf(() => loadFile(`${long}: 1\n`))).toMatch(
      /: unknown key \(not shown: not an option name\) at line 1, column 1$/,
    );
    expect(errorOf(() => loadFile('previous-chains:\n  - path: /c.pem\n    Hunter2: x\n'))).toMatch(
      /previous-chains\[0\]: unknown key \(not shown: not an option name\)$/,
    );
  });
});

describe('aliases a config file cannot expand', () => {
  it('stop start-up with a ConfigError in fixed words, not a ReferenceError', () => {
    // A billion laughs, cut short by yaml's limit on expanded aliases.
    const laughs = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
    for (const name of 'bcdefg')
      laughs.push(
        `${name}: &${name} [${`*${String.fromCharCode(name.charCodeAt(0) - 1)}, `.repeat(10).slice(0, -2)}]`,
      );
    const error = errorOf(() => loadFile(`${laughs.join('\n')}\n`));
    expect(error).toMatch(/cannot parse: its aliases \(\*name\) cannot be expanded/);
  });
});

describe('a secret given as a flag is accepted with a warning (the process list shows it)', () => {
  const warningsOf = (flags: Record<string, unknown>, env: NodeJS.ProcessEnv = {}) =>
    loadServeConfig({ flags, env, searchDirs: [] }).warnings.filter((warning) =>
      warning.includes('process list'),
    );

  it('warns for the password, the Vault token and a database URL with a password, never quoting them', () => {
    const warnings = warningsOf({
      fileSignerPasswd: SECRET,
      tinkHcvaultToken: SECRET,
      ledgerUrl: `postgres://tsa:${SECRET}@127.0.0.1:5432/tsa`,
    });
    expect(warnings).toEqual([
      '--file-signer-passwd on the command line is visible to every user of this machine in the process list; give it with --file-signer-passwd-file or FILE_SIGNER_PASSWD instead',
      '--tink-hcvault-token on the command line is visible to every user of this machine in the process list; give it with --tink-hcvault-token-file or TINK_HCVAULT_TOKEN instead',
      '--ledger-url on the command line is visible to every user of this machine in the process list; give it with TIMESTAMP_LEDGER_URL or a config file instead',
    ]);
    for (const warning of warnings) expect(warning).not.toContain(SECRET);
  });

  it('warns for a PKCS#11 URI with pin-value, as --pkcs11-uri or --ledger-key; not with pin-source', () => {
    const uri = (query: string) => `pkcs11:token=tsa;object=key?module-path=/lib/p11.so&${query}`;
    const warnings = warningsOf({
      pkcs11Uri: uri(`pin-value=${SECRET}`),
      ledgerUrl: 'postgres://tsa@127.0.0.1/tsa',
      ledgerKey: `pkcs11:token=log;object=key;pin-value=${SECRET}`,
      ledgerOrigin: 'tsa.example/log',
    });
    expect(warnings).toEqual([
      '--pkcs11-uri on the command line is visible to every user of this machine in the process list; give it with pin-source=file:/path/to/pin in place of pin-value, or PKCS11_URI instead',
      '--ledger-key on the command line is visible to every user of this machine in the process list; give it with pin-source=file:/path/to/pin in place of pin-value, or LEDGER_KEY instead',
    ]);
    for (const warning of warnings) expect(warning).not.toContain(SECRET);
    expect(
      warningsOf({
        pkcs11Uri: uri('pin-source=file:/run/secrets/pin'),
        ledgerUrl: 'postgres://tsa@127.0.0.1/tsa',
        ledgerKey: '/keys/log.pem',
        ledgerOrigin: 'tsa.example/log',
      }),
    ).toEqual([]);
    expect(warningsOf({}, { PKCS11_URI: uri(`pin-value=${SECRET}`) })).toEqual([]);
  });

  it('warns for a password in the URL query too; not for secrets from the environment, nor a URL without one', () => {
    expect(
      warningsOf({ ledgerUrl: `postgres://tsa@127.0.0.1/tsa?sslpassword=${SECRET}` }),
    ).toHaveLength(1);
    expect(warningsOf({ ledgerUrl: `postgres://tsa@127.0.0.1/tsa?password=${SECRET}` })).toEqual([
      '--ledger-url on the command line is visible to every user of this machine in the process list; give it with TIMESTAMP_LEDGER_URL or a config file instead',
    ]);
    expect(
      warningsOf(
        { ledgerUrl: 'postgres://tsa@127.0.0.1:5432/tsa' },
        { FILE_SIGNER_PASSWD: SECRET, TINK_HCVAULT_TOKEN: SECRET },
      ),
    ).toEqual([]);
  });
});

describe("--print-config's output saved as a config file", () => {
  it('is refused where it holds a masked secret, naming the option, instead of taking ******** as the secret', () => {
    const saved = formatConfig(
      loadServeConfig({
        flags: {},
        env: { FILE_SIGNER_PASSWD: SECRET, TIMESTAMP_SIGNER: 'file' },
        searchDirs: [],
      }).config,
    );
    expect(saved).toContain('file-signer-passwd: "********"');
    expect(errorOf(() => loadFile(saved))).toMatch(
      /^config file \S+timestamp-server\.yaml: invalid value for key "file-signer-passwd": \*{8} is how --print-config masks a secret, not the secret: give it again$/,
    );
  });

  it.each(secretOptions.map((spec) => [spec.flag, spec] as const))(
    '%s: the mask is refused in every layer',
    (flag, spec) => {
      expect(errorOf(() => parseOptionValue(spec, MASK))).toContain(
        `invalid value for --${flag}: ******** is how --print-config masks a secret`,
      );
    },
  );

  it('a secret that merely contains asterisks is taken', () => {
    const spec = secretOptions.find((candidate) => candidate.flag === 'file-signer-passwd')!;
    expect(parseOptionValue(spec, '*********')).toBe('*********');
  });
});
