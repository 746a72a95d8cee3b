import { Command, InvalidArgumentError } from 'commander';
import { parseHashName, type HashName } from '../../asn1/algorithms.js';
import {
  GENERATED_KEY_TYPES,
  openKeyReference,
  type GeneratedKeyType,
} from '../../signers/key-reference.js';
import type { Signer } from '../../crypto/signer.js';
import { createCertificationRequest } from '../../x509/certification-request.js';
import {
  DEFAULT_LIFETIMES,
  makeCertificateChain,
  type ChainMember,
} from '../../x509/chain-maker.js';
import { CSBR_MIN_RSA_BITS } from '../../x509/csbr.js';
import type { NameAttributes } from '../../x509/name.js';
import { encodePem } from '../../x509/pem.js';
import { parseRfc3339 } from '../../rfc3339.js';
import { errorLine } from '../exit-status.js';
import { option, parseTimeout } from './arguments.js';
import { CliError, type Output } from './output.js';
import type { GlobalOptions } from './timestamp-command.js';
import {
  checkOutputFile,
  PUBLIC_FILE_MODE,
  sameFile,
  summaryStream,
  writeOutputFile,
} from './write-output.js';

interface KeyOptions {
  generateKeys?: GeneratedKeyType;
  signatureHash: HashName | 'auto';
  country?: string;
  organization?: string;
}

interface CreateOptions extends KeyOptions {
  rootKey: string;
  intermediateKey?: string;
  leafKey: string;
  rootCommonName: string;
  intermediateCommonName: string;
  leafCommonName: string;
  rootLifetime: number;
  intermediateLifetime: number;
  leafLifetime: number;
  leafPrivateKeyUsagePeriod?: number;
  notBefore?: Date;
  output: string;
}

interface CsrOptions extends KeyOptions {
  leafKey: string;
  commonName: string;
  privateKeyUsagePeriod?: number;
  notBefore?: Date;
  output: string;
}

// Each flag through option(): its TIMESTAMP_* variable is bound, as for the other commands.
const lifetime = (flag: string, defaultMs: number, what: string) =>
  option(`--${flag} <duration>`, `${what} (Go duration)`)
    .default(defaultMs, `${defaultMs / 3_600_000}h`)
    .argParser(atLeastOneSecond(`the ${what}`));

function keyOptions(command: Command): Command {
  return command
    .addOption(
      option(
        '--generate-keys <type>',
        'write a fresh key to every key file that does not exist (development only)',
      ).choices(GENERATED_KEY_TYPES),
    )
    .addOption(
      option(
        '--signature-hash <hash>',
        'digest of the signatures: sha256, sha384, sha512, or auto (from the key)',
      )
        .default('auto')
        .argParser((value: string) => (value === 'auto' ? 'auto' : parseHash(value))),
    )
    .addOption(
      option(
        '--country <code>',
        'country (C) of each certificate subject, two capital letters of ISO 3166 (create: all three; csr: its one)',
      ).argParser(countryCode),
    )
    .addOption(
      option(
        '--organization <name>',
        'organization (O) of each certificate subject (create: all three; csr: its one)',
      ).argParser(nameAttribute),
    );
}

/** X.520 countryName: PrintableString (SIZE (2)), an ISO 3166 alpha-2 code (RFC 5280 appendix A). */
function countryCode(value: string): string {
  if (!/^[A-Z]{2}$/.test(value))
    throw new InvalidArgumentError('a country is two capital letters of ISO 3166, e.g. DE');
  return value;
}

/** X.520 DirectoryString is SIZE (1..ub): an empty O or CN would not be one. */
function nameAttribute(value: string): string {
  if (value === '') throw new InvalidArgumentError('a name attribute cannot be empty (X.520)');
  return value;
}

function parseHash(value: string): HashName {
  try {
    return parseHashName(value);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
}

/** RFC 5280 4.1.2.5: 99991231235959Z, the latest time a certificate's validity can hold. */
const LATEST_NOT_AFTER = new Date(Date.UTC(9999, 11, 31, 23, 59, 59));
const EARLIEST_NOT_BEFORE = new Date(Date.UTC(0, 0, 1)).setUTCFullYear(0);

/**
 * An RFC 3339 time, nothing else: Date's own parser takes "12" for 2001-12-01, a time without a
 * zone as local time, and rolls 2025-02-30 over to March.
 */
function parseDate(value: string): Date {
  const date = parseRfc3339(value);
  if (!date)
    throw new InvalidArgumentError(
      `"${value}" is not an RFC 3339 time (YYYY-MM-DDThh:mm:ss[.fraction] and Z or ±hh:mm)`,
    );
  if (date.getTime() < EARLIEST_NOT_BEFORE || date > LATEST_NOT_AFTER)
    throw new InvalidArgumentError(`"${value}" is not in the years 0000 to 9999 (RFC 5280)`);
  return date;
}

/**
 * notBefore + the lifetime. One past 9999-12-31T23:59:59Z has no encoding that OpenSSL, Go or Node
 * reads (a five-digit year, or NaN past JavaScript's last date): refused before any key is opened.
 */
function notAfterOf(notBefore: Date, lifetimeMs: number, flag: string): Date {
  const notAfter = new Date(notBefore.getTime() + lifetimeMs);
  if (!(notAfter <= LATEST_NOT_AFTER)) {
    throw new CliError(
      'USAGE',
      `--${flag} ${lifetimeMs / 3_600_000}h from ${notBefore.toISOString()} ends after ` +
        `${LATEST_NOT_AFTER.toISOString().replace('.000', '')}, the latest notAfter a certificate ` +
        'can hold (RFC 5280 4.1.2.5)',
    );
  }
  return notAfter;
}

/**
 * A Go duration of at least one second, as certificates hold whole seconds (RFC 5280 section
 * 4.1.2.5.2): a shorter span would make a certificate (or its key's period) end as it begins.
 */
const atLeastOneSecond =
  (what: string) =>
  (value: string): number => {
    const duration = parseTimeout(value);
    if (duration < 1000)
      throw new InvalidArgumentError(
        `${what} must be at least 1s (certificates hold whole seconds)`,
      );
    return duration;
  };

const parseKeyUsagePeriod = atLeastOneSecond('the period the leaf key may sign for');

/**
 * The leaf key's privateKeyUsagePeriod: from the leaf's notBefore, `periodMs` long. One longer
 * than the leaf's lifetime would say nothing the validity does not (and is likely a slip of the
 * unit): refused before any key is opened.
 */
function keyUsagePeriodOf(
  notBefore: Date,
  periodMs: number,
  leafLifetimeMs: number,
): { notBefore: Date; notAfter: Date } {
  if (periodMs > leafLifetimeMs) {
    throw new CliError(
      'USAGE',
      `--leaf-private-key-usage-period ${periodMs / 3_600_000}h is longer than --leaf-lifetime ` +
        `${leafLifetimeMs / 3_600_000}h: the leaf key cannot sign past the leaf's notAfter`,
    );
  }
  return { notBefore, notAfter: new Date(notBefore.getTime() + periodMs) };
}

/**
 * The privateKeyUsagePeriod a CSR asks for: from --not-before (default now), for
 * --private-key-usage-period. The CA decides the certificate's validity, so no lifetime bounds it
 * here; a --not-before alone asks for nothing, and is refused.
 */
function requestedKeyUsagePeriod(
  options: Pick<CsrOptions, 'privateKeyUsagePeriod' | 'notBefore'>,
): { notBefore: Date; notAfter: Date } | undefined {
  const { privateKeyUsagePeriod: periodMs, notBefore } = options;
  if (periodMs === undefined) {
    if (notBefore === undefined) return undefined;
    throw new CliError(
      'USAGE',
      '--not-before starts the privateKeyUsagePeriod a CSR asks for: give --private-key-usage-period too',
    );
  }
  const from = notBefore ?? new Date();
  return { notBefore: from, notAfter: notAfterOf(from, periodMs, 'private-key-usage-period') };
}

function subject(commonName: string, options: KeyOptions): NameAttributes {
  return {
    ...(options.country === undefined ? {} : { country: options.country }),
    ...(options.organization === undefined ? {} : { organization: options.organization }),
    commonName,
  };
}

/** `rsaBits`: the size of a generated `rsa` key (CSBR 6.1.5: CA 4096, TSA 3072). */
async function open(
  reference: string,
  options: KeyOptions,
  rsaBits: number,
  warn: (message: string) => void,
): Promise<Signer> {
  return openKeyReference(reference, options.signatureHash, {
    ...(options.generateKeys ? { generate: options.generateKeys, rsaBits } : {}),
    warn,
  });
}

/**
 * Releases the keys' clients and sessions (a PKCS#11 token's login, a KMS client that would keep
 * the process alive): every one, even after one fails; then throws the first failure.
 */
async function closeAll(signers: readonly Signer[]): Promise<void> {
  let failure: { error: unknown } | undefined;
  for (const signer of signers) {
    try {
      await signer[Symbol.asyncDispose]();
    } catch (error) {
      failure ??= { error };
    }
  }
  if (failure) throw failure.error;
}

/**
 * `work`, then every key in `opened` released. When `work` fails, its error is the one thrown:
 * a key that then fails to close is a warning (the CLI prints only the ending error's message).
 */
async function releasingKeys<T>(
  opened: readonly Signer[],
  warn: (message: string) => void,
  work: () => Promise<T>,
): Promise<T> {
  let result: T;
  try {
    result = await work();
  } catch (error) {
    await closeAll(opened).catch((closing: unknown) =>
      warn(`releasing the keys after that failure also failed: ${errorLine(closing)}`),
    );
    throw error;
  }
  await closeAll(opened);
  return result;
}

/** The file a key reference names, or undefined for a pkcs11: or KMS URI. */
function keyFilePath(reference: string): string | undefined {
  if (reference.startsWith('file://')) return reference.slice('file://'.length);
  return /^[a-z][a-z0-9+.-]*:/i.test(reference) ? undefined : reference;
}

/**
 * Refuses an --output that is one of the key files (directly or through a link), before any key
 * is opened or generated: writing the PEM there would destroy the private key.
 */
function refuseOutputOverKey(
  output: string,
  keys: [role: string, reference: string | undefined][],
): void {
  for (const [role, reference] of keys) {
    const path = reference === undefined ? undefined : keyFilePath(reference);
    if (path !== undefined && sameFile(output, path)) {
      throw new CliError(
        'USAGE',
        `--output ${output} is the ${role} key file: writing there would destroy the key`,
      );
    }
  }
}

export function certificatesCommand(
  globals: () => Pick<GlobalOptions, 'format'>,
  output: Output,
): Command {
  const certificates = new Command('certificates').description(
    'Make a TSA certificate chain or a CSR for the TSA key',
  );

  const create = keyOptions(
    new Command('create')
      .description('make root -> [intermediate] -> leaf and write the PEM chain, leaf first')
      .addOption(
        option(
          '--root-key <ref>',
          'root key: PEM file, pkcs11: URI (RFC 7512), or an awskms://, gcpkms://, azurekms://, ' +
            'hashivault:// or openbao:// URI',
        ).makeOptionMandatory(),
      )
      .addOption(
        option(
          '--intermediate-key <ref>',
          'intermediate key (same forms); without it the root issues the leaf',
        ),
      )
      .addOption(option('--leaf-key <ref>', 'TSA signing key (same forms)').makeOptionMandatory())
      .addOption(
        option('--root-common-name <cn>', 'root subject CN')
          .default('Timestamp Authority Root CA')
          .argParser(nameAttribute),
      )
      .addOption(
        option('--intermediate-common-name <cn>', 'intermediate subject CN')
          .default('Timestamp Authority Intermediate CA')
          .argParser(nameAttribute),
      )
      .addOption(
        option('--leaf-common-name <cn>', 'leaf subject CN')
          .default('Timestamp Authority')
          .argParser(nameAttribute),
      )
      .addOption(lifetime('root-lifetime', DEFAULT_LIFETIMES.root, 'root validity'))
      .addOption(
        lifetime('intermediate-lifetime', DEFAULT_LIFETIMES.intermediate, 'intermediate validity'),
      )
      .addOption(lifetime('leaf-lifetime', DEFAULT_LIFETIMES.leaf, 'leaf validity'))
      .addOption(
        option(
          '--leaf-private-key-usage-period <duration>',
          "how long the leaf key may sign from the leaf's notBefore, written as its " +
            'privateKeyUsagePeriod (Go duration, at most --leaf-lifetime; default: no such extension)',
        ).argParser(parseKeyUsagePeriod),
      )
      .addOption(
        option('--not-before <time>', 'start of every validity, RFC 3339 (default: now)').argParser(
          parseDate,
        ),
      )
      .addOption(
        option('--output <file>', 'PEM chain to write (leaf, [intermediate], root)').default(
          'chain.pem',
        ),
      ),
  ).action(async (options: CreateOptions) => {
    refuseOutputOverKey(options.output, [
      ['root', options.rootKey],
      ['intermediate', options.intermediateKey],
      ['leaf', options.leafKey],
    ]);
    // Before any key is opened or generated.
    await checkOutputFile(options.output);
    const notBefore = options.notBefore ?? new Date();
    const validity = (lifetimeMs: number, flag: string) => ({
      notBefore,
      notAfter: notAfterOf(notBefore, lifetimeMs, flag),
    });
    const rootValidity = validity(options.rootLifetime, 'root-lifetime');
    const intermediateValidity =
      options.intermediateKey && validity(options.intermediateLifetime, 'intermediate-lifetime');
    const leafValidity = validity(options.leafLifetime, 'leaf-lifetime');
    const keyUsagePeriod =
      options.leafPrivateKeyUsagePeriod === undefined
        ? undefined
        : keyUsagePeriodOf(notBefore, options.leafPrivateKeyUsagePeriod, options.leafLifetime);
    const warn = (warning: string) => output.stderr(`warning: ${warning}\n`);
    // Every key opened is released whatever fails next: a later key that does not open, too.
    const opened: Signer[] = [];
    const member = async (
      reference: string,
      commonName: string,
      period: Pick<ChainMember, 'notBefore' | 'notAfter'>,
      rsaBits: number = CSBR_MIN_RSA_BITS.ca,
    ): Promise<ChainMember> => {
      const signer = await open(reference, options, rsaBits, warn);
      opened.push(signer);
      return { signer, subject: subject(commonName, options), ...period };
    };
    const chain = await releasingKeys(opened, warn, async () => {
      const root = await member(options.rootKey, options.rootCommonName, rootValidity);
      const intermediate =
        options.intermediateKey && intermediateValidity
          ? await member(
              options.intermediateKey,
              options.intermediateCommonName,
              intermediateValidity,
            )
          : undefined;
      const leaf = await member(
        options.leafKey,
        options.leafCommonName,
        leafValidity,
        CSBR_MIN_RSA_BITS.tsa,
      );
      return makeCertificateChain(
        {
          root,
          leaf: { ...leaf, ...(keyUsagePeriod && { privateKeyUsagePeriod: keyUsagePeriod }) },
          ...(intermediate ? { intermediate } : {}),
        },
        warn,
      );
    });
    await writeOutputFile(
      options.output,
      chain.map((der) => encodePem('CERTIFICATE', der)).join(''),
      PUBLIC_FILE_MODE,
    );
    const roles = chain.length === 3 ? ['leaf', 'intermediate', 'root'] : ['leaf', 'root'];
    // With --output /dev/stdout the PEM is the output: the summary goes to stderr.
    summaryStream(
      output,
      options.output,
    )(
      globals().format === 'json'
        ? `${JSON.stringify({ Location: options.output, Certificates: roles })}\n`
        : `Wrote certificate chain (${roles.join(', ')}) to ${options.output}\n`,
    );
  });

  const csr = keyOptions(
    new Command('csr')
      .description('write a PKCS#10 request for the TSA key, for a CA of your own to sign')
      .addOption(
        option(
          '--leaf-key <ref>',
          'TSA signing key: PEM file, pkcs11: URI or KMS URI',
        ).makeOptionMandatory(),
      )
      .addOption(
        option('--common-name <cn>', 'subject CN')
          .default('Timestamp Authority')
          .argParser(nameAttribute),
      )
      .addOption(
        option(
          '--private-key-usage-period <duration>',
          'how long the key may sign from --not-before, asked for as a privateKeyUsagePeriod ' +
            '(Go duration; default: not asked for)',
        ).argParser(parseKeyUsagePeriod),
      )
      .addOption(
        option(
          '--not-before <time>',
          'start of the privateKeyUsagePeriod asked for, RFC 3339 (default: now)',
        ).argParser(parseDate),
      )
      .addOption(option('--output <file>', 'PEM CSR to write').default('leaf.csr')),
  ).action(async (options: CsrOptions) => {
    refuseOutputOverKey(options.output, [['leaf', options.leafKey]]);
    // Before any key is opened or generated.
    const keyUsagePeriod = requestedKeyUsagePeriod(options);
    await checkOutputFile(options.output);
    const warn = (warning: string) => output.stderr(`warning: ${warning}\n`);
    const signer = await open(options.leafKey, options, CSBR_MIN_RSA_BITS.tsa, warn);
    const request = await releasingKeys([signer], warn, () =>
      createCertificationRequest(signer, subject(options.commonName, options), keyUsagePeriod),
    );
    await writeOutputFile(
      options.output,
      encodePem('CERTIFICATE REQUEST', request),
      PUBLIC_FILE_MODE,
    );
    summaryStream(
      output,
      options.output,
    )(
      globals().format === 'json'
        ? `${JSON.stringify({ Location: options.output })}\n`
        : `Wrote certificate request to ${options.output}\n`,
    );
  });

  return certificates.addCommand(create).addCommand(csr);
}
