import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openssl } from './openssl.js';

export type KeyAlgorithm =
  | 'P-256'
  | 'P-384'
  | 'P-521'
  | 'RSA-1024'
  | 'RSA-2048'
  | 'RSA-3072'
  | 'RSA-4096'
  | 'RSA-PSS-2048'
  | 'RSA-PSS-3072'
  | 'Ed25519';

/** X.509 v3 extension sections (openssl x509v3_config syntax) for a conventional TSA chain. */
export const EXT = {
  root: 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash',
  intermediate:
    'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nextendedKeyUsage=timeStamping\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid',
  leaf: 'keyUsage=critical,digitalSignature\nextendedKeyUsage=critical,timeStamping\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid',
};

/**
 * An extension line (openssl's arbitrary-extension syntax) for a privateKeyUsagePeriod (X.509
 * section 9.2.2.5): SEQUENCE { notBefore [0] GeneralizedTime, notAfter [1] GeneralizedTime },
 * either bound left out when not given; `time` writes a bound's text (default YYYYMMDDHHMMSSZ).
 */
export function privateKeyUsagePeriodExt(
  period: { notBefore?: Date; notAfter?: Date },
  time = (date: Date) => date.toISOString().replace(/[-:T]|\.\d{3}/g, ''),
): string {
  const field = (tag: number, date: Date | undefined) => {
    if (!date) return Buffer.alloc(0);
    const text = Buffer.from(time(date), 'latin1');
    return Buffer.concat([Buffer.from([tag, text.length]), text]);
  };
  const content = Buffer.concat([field(0x80, period.notBefore), field(0x81, period.notAfter)]);
  const der = Buffer.concat([Buffer.from([0x30, content.length]), content]);
  return `2.5.29.16=DER:${[...der].map((byte) => byte.toString(16).padStart(2, '0')).join(':')}`;
}

export interface CertOptions {
  subject: string;
  /** Extension lines; omitted: an X.509 v1 certificate without extensions. */
  ext?: string;
  /** Name of the issuing certificate (and its key); omitted: self-signed. */
  issuer?: string;
  /** Certify this PEM public key instead of `<name>.key`'s; the CSR is then made with `csrKey`. */
  publicKeyPem?: string;
  csrKey?: string;
  /** Negative: already expired. */
  days?: number;
}

/** Keys and certificates made by the openssl command in a directory, addressed by name. */
export class OpensslPki {
  constructor(readonly dir: string) {}

  path(name: string): string {
    return join(this.dir, name);
  }

  async key(name: string, algorithm: KeyAlgorithm = 'P-256'): Promise<string> {
    const args = ['genpkey', '-out', this.path(`${name}.key`)];
    if (algorithm.startsWith('RSA-PSS-'))
      args.push('-algorithm', 'RSA-PSS', '-pkeyopt', `rsa_keygen_bits:${algorithm.slice(8)}`);
    else if (algorithm.startsWith('RSA-'))
      args.push('-algorithm', 'RSA', '-pkeyopt', `rsa_keygen_bits:${algorithm.slice(4)}`);
    else if (algorithm === 'Ed25519') args.push('-algorithm', 'ED25519');
    else args.push('-algorithm', 'EC', '-pkeyopt', `ec_paramgen_curve:${algorithm}`);
    await openssl(args);
    return this.path(`${name}.key`);
  }

  /** Issues `<name>.pem` for the key `<name>.key` (made with {@link key} first). */
  async cert(name: string, options: CertOptions): Promise<string> {
    const csr = this.path(`${name}.csr`);
    await openssl([
      'req',
      '-new',
      '-key',
      this.path(`${options.csrKey ?? name}.key`),
      '-subj',
      options.subject,
      '-out',
      csr,
    ]);
    const args = [
      'x509',
      '-req',
      '-in',
      csr,
      '-out',
      this.path(`${name}.pem`),
      '-days',
      String(options.days ?? 365),
    ];
    args.push('-set_serial', `0x${randomBytes(16).toString('hex')}`);
    if (options.issuer) {
      args.push(
        '-CA',
        this.path(`${options.issuer}.pem`),
        '-CAkey',
        this.path(`${options.issuer}.key`),
      );
    } else {
      args.push('-signkey', this.path(`${name}.key`));
    }
    if (options.publicKeyPem) {
      const publicKey = this.path(`${name}.pub`);
      writeFileSync(publicKey, options.publicKeyPem);
      args.push('-force_pubkey', publicKey);
    }
    if (options.ext !== undefined) {
      const extFile = this.path(`${name}.ext`);
      writeFileSync(extFile, `[v3]\n${options.ext}\n`);
      args.push('-extfile', extFile, '-extensions', 'v3');
    }
    await openssl(args);
    return this.path(`${name}.pem`);
  }

  /** Concatenates certificates (leaf first) into `<file>`; returns its path. */
  chain(file: string, ...names: string[]): string {
    const pem = names.map((name) => readFileSync(this.path(`${name}.pem`), 'utf8')).join('');
    writeFileSync(this.path(file), pem);
    return this.path(file);
  }

  /** A root, an intermediate and a leaf for `leafKeyAlgorithm`; returns the chain path. */
  async standardChain(prefix = '', leafKeyAlgorithm: KeyAlgorithm = 'P-256'): Promise<string> {
    await this.key(`${prefix}root`);
    await this.cert(`${prefix}root`, {
      subject: '/O=test/CN=Test Root',
      ext: EXT.root,
      days: 3650,
    });
    await this.key(`${prefix}intermediate`);
    await this.cert(`${prefix}intermediate`, {
      subject: '/O=test/CN=Test Intermediate',
      ext: EXT.intermediate,
      issuer: `${prefix}root`,
    });
    await this.key(`${prefix}leaf`, leafKeyAlgorithm);
    await this.cert(`${prefix}leaf`, {
      subject: '/O=test/CN=Test TSA',
      ext: EXT.leaf,
      issuer: `${prefix}intermediate`,
    });
    return this.chain(
      `${prefix}chain.pem`,
      `${prefix}leaf`,
      `${prefix}intermediate`,
      `${prefix}root`,
    );
  }
}
