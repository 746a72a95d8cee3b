import { option } from './option-spec.js';

/**
 * Flags of the Go server (its root flags and go-swagger's listener flags) for features this server
 * does not have, or has only as one setting for both listeners. They are accepted so a Go command
 * line, config file or environment keeps working; src/config/rules.ts warns where a value is
 * ignored and refuses one that would leave the server less protected than asked
 * (docs/configuration.md, Go flag spellings). Options without a default (undefined) mean "not given".
 */
export const GO_ONLY_OPTIONS = {
  enablePprof: option({
    flag: 'enable-pprof',
    kind: 'boolean',
    default: false,
    description:
      'Go: pprof on :6060; there is no pprof here, a warning is logged (use node --cpu-prof)',
  }),
  scheme: option<readonly string[]>({
    flag: 'scheme',
    kind: 'list',
    default: [],
    description:
      'Go: listeners to serve (http, https); here http always, https when --tls-certificate and --tls-key are set; unix is refused',
  }),
  keepAlive: option({
    flag: 'keep-alive',
    kind: 'duration',
    default: 180_000,
    description:
      'Go: 0 turns keep-alive off; here keep-alive is always on (idle connections close after --cleanup-timeout), 0 logs a warning',
  }),
  socketPath: option({
    flag: 'socket-path',
    kind: 'string',
    default: '',
    description: 'Go: Unix socket of --scheme unix; not supported here, a warning is logged',
  }),
  tlsListenLimit: option<number | undefined>({
    flag: 'tls-listen-limit',
    kind: 'integer',
    default: undefined,
    description:
      'Go: connection limit of the HTTPS listener; here --max-connections limits both, so only its value is accepted',
  }),
  tlsKeepAlive: option({
    flag: 'tls-keep-alive',
    kind: 'duration',
    default: 180_000,
    description: 'Go: as --keep-alive, for the HTTPS listener',
  }),
  tlsReadTimeout: option<number | undefined>({
    flag: 'tls-read-timeout',
    kind: 'duration',
    default: undefined,
    description:
      'Go: read timeout of the HTTPS listener; here --read-timeout covers both, so only its value is accepted',
  }),
  tlsWriteTimeout: option<number | undefined>({
    flag: 'tls-write-timeout',
    kind: 'duration',
    default: undefined,
    description:
      'Go: write timeout of the HTTPS listener; here --write-timeout covers both, so only its value is accepted',
  }),
} as const;
