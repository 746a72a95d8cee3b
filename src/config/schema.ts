/**
 * Every server option, its flag name (the Go server's), default and meaning, in one place.
 * The Config type, the commander flags and (later) the file/env layers all derive from it.
 */

export type OptionKind = 'string' | 'integer' | 'boolean' | 'list';

export interface OptionSpec<T> {
  /** Flag name without dashes, as the Go server spells it. */
  flag: string;
  kind: OptionKind;
  default: T;
  description: string;
  /** Allowed values of a string option. */
  choices?: readonly string[];
  /** Masked when the configuration is printed; never logged. */
  secret?: boolean;
}

function option<T>(spec: OptionSpec<T>): OptionSpec<T> {
  return spec;
}

export const SIGNER_TYPES = ['memory'] as const;

export const SERVE_OPTIONS = {
  host: option({
    flag: 'host',
    kind: 'string',
    default: '127.0.0.1',
    description: 'address to listen on (use 0.0.0.0 in a container)',
  }),
  port: option({ flag: 'port', kind: 'integer', default: 3000, description: 'port to listen on' }),
  timestampSigner: option({
    flag: 'timestamp-signer',
    kind: 'string',
    default: 'memory',
    choices: SIGNER_TYPES,
    description: 'where the signing key is held',
  }),
  timestampSignerHash: option({
    flag: 'timestamp-signer-hash',
    kind: 'string',
    default: 'sha256',
    choices: ['sha256', 'sha384', 'sha512'],
    description: 'digest of the CMS signature (must suit the key)',
  }),
  includeChainInResponse: option({
    flag: 'include-chain-in-response',
    kind: 'boolean',
    default: false,
    description: 'with certReq, embed the whole chain, not only the leaf',
  }),
  useHttp201: option({
    flag: 'use-http-201',
    kind: 'boolean',
    default: false,
    description: 'answer 201 Created instead of 200 OK for granted tokens',
  }),
  defaultPolicyOid: option({
    flag: 'default-policy-oid',
    kind: 'string',
    default: '1.3.6.1.4.1.57264.2',
    description: 'TSA policy used when a request names none',
  }),
  acceptedPolicyOids: option<readonly string[]>({
    flag: 'accepted-policy-oids',
    kind: 'list',
    default: ['1.3.6.1.4.1.57264.2'],
    description: 'policies a request may name (comma-separated)',
  }),
  allowCustomExtensions: option({
    flag: 'allow-custom-extensions',
    kind: 'boolean',
    default: false,
    description: 'copy request extensions into tokens instead of refusing them',
  }),
  maxRequestBodySize: option({
    flag: 'max-request-body-size',
    kind: 'integer',
    default: 1_048_576,
    description: 'largest request body in bytes (0 = no limit)',
  }),
  httpRequestIdHeaderName: option({
    flag: 'http-request-id-header-name',
    kind: 'string',
    default: 'X-Request-Id',
    description: 'header carrying the request ID (echoed in the response)',
  }),
  auditLog: option({
    flag: 'audit-log',
    kind: 'string',
    default: '',
    description: 'append one JSON line per timestamp request to this file, fsynced before a token is sent; reopened on SIGHUP (empty = off)',
  }),
  rateLimitMax: option({
    flag: 'rate-limit-max',
    kind: 'integer',
    default: 0,
    description: 'timestamp requests allowed per client address per window, then 429 (0 = no limit)',
  }),
  rateLimitWindow: option({
    flag: 'rate-limit-window',
    kind: 'integer',
    default: 60,
    description: 'length of the rate-limit window in seconds',
  }),
  trustedProxies: option<readonly string[]>({
    flag: 'trusted-proxies',
    kind: 'list',
    default: [],
    description: 'addresses or CIDRs of reverse proxies whose X-Forwarded-For names the client (comma-separated)',
  }),
  logType: option({
    flag: 'log-type',
    kind: 'string',
    default: 'dev',
    choices: ['dev', 'prod'],
    description: 'dev: human-readable; prod: one JSON object per line',
  }),
} as const;

export type ServeOptionName = keyof typeof SERVE_OPTIONS;

type ValueOf<S> = S extends OptionSpec<infer T> ? T : never;
type Widen<T> = T extends string ? string : T extends number ? number : T extends boolean ? boolean : T;

/** The validated, frozen server configuration. */
export type ServeConfig = {
  readonly [K in ServeOptionName]: Widen<ValueOf<(typeof SERVE_OPTIONS)[K]>>;
};
