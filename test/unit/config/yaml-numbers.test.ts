import { describe, expect, it } from 'vitest';
import { loadFromEnvAndFile } from '../../helpers/config-layers.js';

const load = (text: string) => loadFromEnvAndFile({}, text).config;

const FILE_SIGNER =
  'timestamp-signer: file\nfile-signer-key-path: /k.pem\ncertificate-chain-path: /c.pem\n';

describe('an unquoted value YAML reads as a number', () => {
  // Each was silently altered: 0123 -> "123", 1e3 -> "1000", 0x1F -> "31", ...
  const written = [
    '0123',
    '1e3',
    '0x1F',
    '0o17',
    '12345678901234567890',
    '+12',
    '.5',
    '1.0',
    '-0',
    '.inf',
  ];

  it.each(written)('is a string option as written: file-signer-passwd: %s', (text) => {
    expect(load(`${FILE_SIGNER}file-signer-passwd: ${text}\n`).fileSignerPasswd).toBe(text);
  });

  it('is as written in a profile and in a list too', () => {
    const config = load(`accepted-policy-oids: [1.20, 1.3.6.1]
profiles:
  - name: rsa
    policy-oids: [1.2.3.4.100]
    ${FILE_SIGNER.trimEnd().replaceAll('\n', '\n    ')}
    file-signer-passwd: 0123
`);
    expect(config.acceptedPolicyOids).toEqual(['1.20', '1.3.6.1']);
    expect(config.profiles?.[0]?.signer).toMatchObject({ password: { inline: '0123' } });
  });

  it('is still the number where the text is the number: ports, counts, sizes, workers, a secret', () => {
    const config = load(
      `${FILE_SIGNER}port: 3000\nworkers: 4\nmax-request-body-size: 2048\ngraceful-timeout: 0\nfile-signer-passwd: 1234\n`,
    );
    expect(config).toMatchObject({
      port: 3000,
      workers: '4',
      maxRequestBodySize: 2048,
      gracefulTimeout: 0,
      fileSignerPasswd: '1234',
    });
    // An explicit tag asks for the number; a quoted value was a string already.
    expect(load(`${FILE_SIGNER}file-signer-passwd: !!int 0123\n`).fileSignerPasswd).toBe('123');
    expect(load(`${FILE_SIGNER}file-signer-passwd: "0123"\n`).fileSignerPasswd).toBe('0123');
  });

  it('is parsed by a numeric option as a flag is: 0x1F and 1e3 are no port', () => {
    expect(load('port: 3000\n').port).toBe(3000);
    expect(() => load('port: 0x1F\n')).toThrow(/invalid value for key "port": "0x1F"/);
    // yaml.v3 reads 03000 as octal, 1536: refused rather than read as 3000.
    expect(() => load('port: 03000\n')).toThrow(
      'invalid value for key "port": "03000" (a leading zero: Go reads 010 as octal, 8; write the number without it)',
    );
    expect(() => load('max-request-body-size: 1e3\n')).toThrow(
      /invalid value for key "max-request-body-size": "1e3"/,
    );
  });
});
