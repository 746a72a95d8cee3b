/**
 * The shapes of the key URIs of --kms-key-resource and --tink-key-resource. The configuration
 * layer refuses a malformed one before anything starts (exit status 2); the signers parse their
 * URIs with the same patterns, for callers that build a signer without that check.
 */

import { serviceUrlProblem } from './service-url.js';

/** A key id: a UUID, or a multi-Region key's `mrk-` and 32 hex digits (sigstore's uuidRE). */
const AWS_KEY_ID =
  '(?:mrk-)?[a-fA-F0-9]{8}-?[a-fA-F0-9]{4}-?[a-fA-F0-9]{4}-?[a-fA-F0-9]{4}-?[a-fA-F0-9]{12}';

const AWS_KEY_REFERENCE = `${AWS_KEY_ID}|alias/[\\w/-]+|arn:(?:aws|aws-us-gov|aws-cn):kms:[a-z0-9-]+:\\d{12}:(?:key/${AWS_KEY_ID}|alias/[\\w/-]+)`;

/** `awskms://[ENDPOINT]/<key id | alias/name | key or alias ARN>`: 1 endpoint, 2 key reference. */
export const AWS_KMS_URI = new RegExp(`^awskms://([^/]*)/(${AWS_KEY_REFERENCE})$`);

/** `gcpkms://<CryptoKey name>[/cryptoKeyVersions/V]`: 1 the CryptoKey, 2 the version. */
export const GCP_KMS_URI =
  /^gcpkms:\/\/(projects\/[^/]+\/locations\/[^/]+\/keyRings\/[^/]+\/cryptoKeys\/[^/]+)(?:\/(?:cryptoKeyVersions|versions)\/(\d+))?$/;

/** `azurekms://<vault host>/<key>[/<version>]`: 1 host, 2 key, 3 version. */
export const AZURE_KMS_URI = /^azurekms:\/\/([^/]+)\/([^/]+)(?:\/([a-z0-9]*))?$/;

/** `hashivault://<key>` or `openbao://<key>` (sigstore's name rule: no slashes): 1 scheme, 2 key. */
export const VAULT_KMS_URI = /^(hashivault|openbao):\/\/(\w(?:[\w.-]*\w)?)$/;

/** The messages of a malformed --kms-key-resource, by scheme (sigstore's, as the Go server's). */
export const KMS_URI_FORMATS = {
  awskms:
    'kms specification should be in the format awskms://[ENDPOINT]/[ID/ALIAS/ARN] (endpoint optional)',
  gcpkms:
    'kms specification should be in the format gcpkms://projects/[PROJECT]/locations/[LOCATION]/keyRings/[KEYRING]/cryptoKeys/[KEY][/cryptoKeyVersions/[VERSION]]',
  azurekms:
    'kms specification should be in the format azurekms://[VAULT_NAME][VAULT_URL]/[KEY_NAME]',
  hashivault: 'kms specification should be in the format hashivault://<key> or openbao://<key>',
  openbao: 'kms specification should be in the format hashivault://<key> or openbao://<key>',
} as const;

const KMS_URI_SHAPES: Record<keyof typeof KMS_URI_FORMATS, RegExp> = {
  awskms: AWS_KMS_URI,
  gcpkms: GCP_KMS_URI,
  azurekms: AZURE_KMS_URI,
  hashivault: VAULT_KMS_URI,
  openbao: VAULT_KMS_URI,
};

/** Tink's `aws-kms://<key ARN>`: 1 partition, 2 region (the KEK is called in that region). */
export const TINK_AWS_KEK_ARN = /^arn:(aws[a-zA-Z0-9-_]*):kms:([a-z0-9-]+):/;

/** Tink's `hcvault://host[:port]/{mount}/keys/{name}`: 1 host, 2 mount, 3 key name. */
export const TINK_VAULT_KEK_URI = /^hcvault:\/\/([^/]+)\/(.+)\/keys\/([^/]+)$/;

/** Tink's `gcp-kms://<CryptoKey name>` (Cloud KMS decrypts with a CryptoKey, not a version). */
export const TINK_GCP_KEK_URI =
  /^gcp-kms:\/\/projects\/[^/]+\/locations\/[^/]+\/keyRings\/[^/]+\/cryptoKeys\/[^/]+$/;

/** The messages of a malformed --tink-key-resource, by scheme. */
export const TINK_KEK_URI_FORMATS = {
  'gcp-kms': 'expected gcp-kms://projects/P/locations/L/keyRings/R/cryptoKeys/K',
  'aws-kms': 'expected aws-kms://arn:<partition>:kms:<region>:…',
  hcvault: 'expected hcvault://host[:port]/{mount}/keys/{name}',
} as const;

const TINK_KEK_URI_SHAPES: Record<keyof typeof TINK_KEK_URI_FORMATS, (uri: string) => boolean> = {
  'gcp-kms': (uri) => TINK_GCP_KEK_URI.test(uri),
  'aws-kms': (uri) => TINK_AWS_KEK_ARN.test(uri.slice('aws-kms://'.length)),
  hcvault: (uri) => TINK_VAULT_KEK_URI.test(uri),
};

const schemeOf = (uri: string): string => uri.slice(0, Math.max(0, uri.indexOf('://')));

/**
 * Why a --kms-key-resource of a known scheme is malformed, or undefined when its shape is right
 * (or its scheme is unknown: the caller refuses that itself).
 */
export function kmsKeyUriProblem(uri: string): string | undefined {
  const scheme = schemeOf(uri);
  if (!Object.hasOwn(KMS_URI_SHAPES, scheme)) return undefined;
  const known = scheme as keyof typeof KMS_URI_FORMATS;
  return KMS_URI_SHAPES[known].test(uri) ? undefined : KMS_URI_FORMATS[known];
}

/** Why a --tink-key-resource of a known scheme is malformed, or undefined (as kmsKeyUriProblem). */
export function tinkKekUriProblem(uri: string): string | undefined {
  const scheme = schemeOf(uri);
  if (!Object.hasOwn(TINK_KEK_URI_SHAPES, scheme)) return undefined;
  const known = scheme as keyof typeof TINK_KEK_URI_FORMATS;
  return TINK_KEK_URI_SHAPES[known](uri) ? undefined : TINK_KEK_URI_FORMATS[known];
}

/** `scheme://user:password@…`: credentials a key URI never carries (and no message may repeat). */
const USERINFO = /^([a-z][a-z0-9+.-]*:\/\/)[^/?#]*@/i;

/** Whether `uri` carries credentials in its authority (user:password@). */
export const hasUserinfo = (uri: string): boolean => USERINFO.test(uri);

/** `uri` with the credentials of its authority replaced by `mask`, for output. */
export const withoutUserinfo = (uri: string, mask: string): string =>
  uri.replace(USERINFO, `$1${mask}@`);

/**
 * The host[:port] a key URI of any shape names, which its client calls as `https://HOST`: the
 * endpoint of `awskms://ENDPOINT/…` (as sigstore's client), the vault of `azurekms://VAULT/…`,
 * the Vault server of Tink's `hcvault://HOST/…`. Checked before the shape, whose error quotes.
 */
const KEY_URI_ENDPOINT = /^(awskms|azurekms|hcvault):\/\/([^/]+)/;

/** What the endpoint of each scheme is called in messages, and an example of one. */
const ENDPOINTS = {
  awskms: { called: 'endpoint', example: 'kms.eu-west-1.amazonaws.com or localhost:4566' },
  azurekms: { called: 'vault host', example: 'myvault.vault.azure.net' },
  hcvault: { called: 'Vault host', example: 'vault.example.com:8200' },
} as const;

/**
 * Why the host[:port] `endpoint` of a key URI of `scheme` (KEY_URI_ENDPOINT) is refused, or
 * undefined: it is checked as any service URL (serviceUrlProblem, as AWS_ENDPOINT_URL_KMS and
 * VAULT_ADDR are: credentials, a query or a fragment, what does not parse) and never quoted, as it
 * may hold credentials or a token. `name` is the URI's, for the message.
 */
export function keyUriEndpointProblem(
  scheme: keyof typeof ENDPOINTS,
  endpoint: string,
  name: string,
): string | undefined {
  const { called, example } = ENDPOINTS[scheme];
  return serviceUrlProblem(`https://${endpoint}`, `the ${called} of ${name}`, {
    example,
    credentials: "the service's own credentials authenticate",
  });
}

const schemeList = (schemes: readonly string[]): string =>
  schemes.map((scheme) => `${scheme}://`).join(', ');

/**
 * Why the key URI `uri` (--kms-key-resource, --tink-key-resource, a key reference: `name` in the
 * message) is refused, or undefined: credentials (user:password@), a scheme not in `schemes`, an
 * endpoint (awskms://, azurekms://, hcvault://) that is no service URL, a shape `problemOf` refuses (kmsKeyUriProblem,
 * tinkKekUriProblem). Key URIs hold no secrets, so a malformed one is quoted; what may hold one
 * (credentials, an endpoint) is refused without quoting it.
 */
export function keyUriRefusal(
  name: string,
  uri: string,
  schemes: readonly string[],
  problemOf: (uri: string) => string | undefined,
): string | undefined {
  if (hasUserinfo(uri))
    return (
      `${name} holds credentials (user:password@), which a key URI never carries: ` +
      "give them to the service's own client (its environment variables or files)"
    );
  if (!schemes.some((scheme) => uri.startsWith(`${scheme}://`)))
    return `unsupported ${name} ${JSON.stringify(uri)}: use ${schemeList(schemes)}`;
  const endpoint = KEY_URI_ENDPOINT.exec(uri);
  const endpointProblem =
    endpoint &&
    keyUriEndpointProblem(endpoint[1] as keyof typeof ENDPOINTS, endpoint[2] as string, name);
  if (endpointProblem) return endpointProblem;
  const problem = problemOf(uri);
  return problem === undefined ? undefined : `invalid ${name} ${JSON.stringify(uri)}: ${problem}`;
}
