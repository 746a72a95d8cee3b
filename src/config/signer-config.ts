import type { HashName } from '../asn1/algorithms.js';
import { ConfigError } from './config-error.js';
import { keyUriRefusal, kmsKeyUriProblem, tinkKekUriProblem } from './key-uri.js';
import type { OptionSpec } from './option-spec.js';
import { SERVE_OPTIONS, type ServeConfig, type ServeOptionName } from './schema.js';

/** A secret given inline (`--flag`) or as a file (`--flag-file`); read by the signer at start-up. */
export interface SecretSource {
  /** The flag's name without dashes, for errors: `file-signer-passwd`. */
  flag: string;
  inline: string;
  file: string;
}

/** How a remote (KMS) signature call is bounded, from the --kms-* flags. */
export interface RemoteCallLimits {
  timeoutMs: number;
  maxConcurrency: number;
  maxRetries: number;
  /** Consecutive failures that open the circuit breaker; 0 disables it. */
  breakerThreshold: number;
  breakerCooldownMs: number;
}

interface SignerCommon {
  /** The token signature's digest; 'auto' follows the key (P-384: SHA-384, P-521/Ed25519: SHA-512). */
  hash: HashName | 'auto';
}

/** The slice of the configuration a signer is built from, one variant per --timestamp-signer. */
export type SignerConfig = SignerCommon &
  (
    | { kind: 'memory' }
    | { kind: 'file'; keyPath: string; password: SecretSource; certificateChainPath: string }
    | {
        kind: 'kms';
        keyResource: string;
        certificateChainPath: string;
        limits: RemoteCallLimits;
      }
    | {
        kind: 'pkcs11';
        /** The key's RFC 7512 URI; may hold a PIN (pin-value): never logged. */
        uri: string;
        certificateChainPath: string;
        maxSessions: number;
        /** Deadline of one signature, waiting for a session included (--pkcs11-timeout). */
        timeoutMs: number;
        /** The circuit breaker's settings (--kms-breaker-*), which close /readyz while the token is gone. */
        breakerThreshold: number;
        breakerCooldownMs: number;
      }
    | {
        kind: 'tink';
        keysetPath: string;
        kekUri: string;
        vaultToken: SecretSource;
        certificateChainPath: string;
        /** Deadline of unwrapping the keyset with the KEK at start (--kms-timeout). */
        timeoutMs: number;
      }
  );

/** The signer's slice of a validated configuration. */
export function signerConfigFrom(config: ServeConfig): SignerConfig {
  const hash = config.timestampSignerHash;
  const kind = config.timestampSigner;
  switch (kind) {
    case 'memory':
      return { kind, hash };
    case 'file':
      return {
        kind,
        hash,
        keyPath: config.fileSignerKeyPath,
        password: {
          flag: 'file-signer-passwd',
          inline: config.fileSignerPasswd,
          file: config.fileSignerPasswdFile,
        },
        certificateChainPath: config.certificateChainPath,
      };
    case 'kms':
      return {
        kind,
        hash,
        keyResource: config.kmsKeyResource,
        certificateChainPath: config.certificateChainPath,
        limits: {
          timeoutMs: config.kmsTimeout,
          maxConcurrency: config.kmsMaxConcurrency,
          maxRetries: config.kmsMaxRetries,
          breakerThreshold: config.kmsBreakerThreshold,
          breakerCooldownMs: config.kmsBreakerCooldown,
        },
      };
    case 'pkcs11':
      return {
        kind,
        hash,
        uri: config.pkcs11Uri,
        certificateChainPath: config.certificateChainPath,
        maxSessions: config.pkcs11MaxSessions,
        timeoutMs: config.pkcs11Timeout,
        breakerThreshold: config.kmsBreakerThreshold,
        breakerCooldownMs: config.kmsBreakerCooldown,
      };
    case 'tink':
      return {
        kind,
        hash,
        keysetPath: config.tinkKeysetPath,
        kekUri: config.tinkKeyResource,
        vaultToken: {
          flag: 'tink-hcvault-token',
          inline: config.tinkHcvaultToken,
          file: config.tinkHcvaultTokenFile,
        },
        certificateChainPath: config.certificateChainPath,
        timeoutMs: config.kmsTimeout,
      };
  }
}

/**
 * The signer options: those of a signer's key, chain and calls (--file-signer-*, --kms-*,
 * --tink-*, --pkcs11-*, --certificate-chain-path). By prefix, so that a new option of a signer
 * counts without a change here. --timestamp-signer and --timestamp-signer-hash apply to all.
 */
const SIGNER_OPTION_PREFIXES = ['file-signer-', 'kms-', 'tink-', 'pkcs11-'];
export const SIGNER_OPTIONS: readonly ServeOptionName[] = (
  Object.entries(SERVE_OPTIONS) as [ServeOptionName, OptionSpec<unknown>][]
)
  .filter(
    ([, spec]) =>
      spec.flag === 'certificate-chain-path' ||
      SIGNER_OPTION_PREFIXES.some((prefix) => spec.flag.startsWith(prefix)),
  )
  .map(([name]) => name);

/**
 * The options a `kind` signer reads: those signerConfigFrom takes for it, seen through a proxy, so
 * that the list is the code's own and cannot drift from it.
 */
function optionsReadBy(kind: ServeConfig['timestampSigner']): ReadonlySet<string> {
  const read = new Set<string>();
  const probe = new Proxy({} as ServeConfig, {
    get: (_target, name) => {
      read.add(String(name));
      return name === 'timestampSigner' ? kind : undefined;
    },
  });
  signerConfigFrom(probe);
  return read;
}

/** Of the option names `names`, the signer options that a `kind` signer ignores, in that order. */
export function signerOptionsIgnoredBy(
  kind: ServeConfig['timestampSigner'],
  names: Iterable<string>,
): ServeOptionName[] {
  const read = optionsReadBy(kind);
  return [...names].filter(
    (name): name is ServeOptionName =>
      (SIGNER_OPTIONS as readonly string[]).includes(name) && !read.has(name),
  );
}

/** The schemes of --kms-key-resource: signers/kms has a provider for each. */
export const KMS_SCHEMES = ['awskms', 'gcpkms', 'azurekms', 'hashivault', 'openbao'] as const;

/** The schemes of --tink-key-resource, the key that wraps a Tink keyset (signers/tink). */
export const TINK_KEK_SCHEMES = ['gcp-kms', 'aws-kms', 'hcvault'] as const;

/**
 * What a server about to start needs of its signers, its own and each profile's: every option the
 * chosen signer cannot start without, a key URI of a known scheme and shape, and each secret given
 * one way only. A ConfigError (exit status 2) before anything starts, instead of the signer's own error
 * (exit status 1) once start-up is under way. `--print-config` skips it: it prints a file to
 * complete. resolveServeConfig does not check it either, so a library caller may resolve the
 * options of a signer it builds itself; the signers keep their own checks.
 */
export function checkSignerOptions(config: ServeConfig): void {
  checkSigner(signerConfigFrom(config), '', (flag) => `--${flag}`);
  // A profile is read from the config file alone: its file, and its keys, not flags.
  for (const profile of config.profiles ?? []) {
    checkSigner(profile.signer, `${profile.source}: profile "${profile.name}": `, (key) => key);
  }
}

function checkSigner(signer: SignerConfig, where: string, option: (flag: string) => string): void {
  const needs = (flag: string): never => {
    throw new ConfigError(
      'OPTION_MISSING',
      `${where}${option('timestamp-signer')} ${signer.kind} needs ${option(flag)}`,
    );
  };
  const secret = ({ flag, inline, file }: SecretSource) => {
    if (inline !== '' && file !== '') {
      throw new ConfigError(
        'CONFLICTING_OPTIONS',
        `${where}set only one of ${option(flag)} and ${option(`${flag}-file`)}`,
      );
    }
  };
  // A key URI of one of `schemes`, of that scheme's shape (keyUriRefusal: secrets never quoted).
  const keyUri = (
    flag: string,
    uri: string,
    schemes: readonly string[],
    problemOf: (uri: string) => string | undefined,
  ) => {
    const refusal = keyUriRefusal(option(flag), uri, schemes, problemOf);
    if (refusal !== undefined) throw new ConfigError('INVALID_VALUE', `${where}${refusal}`);
  };
  switch (signer.kind) {
    case 'memory':
      return;
    case 'file':
      if (signer.keyPath === '') needs('file-signer-key-path');
      secret(signer.password);
      break;
    case 'kms':
      if (signer.keyResource === '') needs('kms-key-resource');
      keyUri('kms-key-resource', signer.keyResource, KMS_SCHEMES, kmsKeyUriProblem);
      break;
    case 'pkcs11':
      if (signer.uri === '') needs('pkcs11-uri');
      break;
    case 'tink':
      if (signer.keysetPath === '') needs('tink-keyset-path');
      if (signer.kekUri === '') needs('tink-key-resource');
      keyUri('tink-key-resource', signer.kekUri, TINK_KEK_SCHEMES, tinkKekUriProblem);
      secret(signer.vaultToken);
      break;
  }
  if (signer.certificateChainPath === '') needs('certificate-chain-path');
}
