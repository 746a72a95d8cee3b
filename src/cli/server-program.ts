/**
 * The `timestamp-server` program: its commands and flags, parsed from argv when this module loads.
 * The executable entry (timestamp-server.ts) imports it once SIGTERM and SIGINT are held.
 */
import { Command, CommanderError, Option } from 'commander';
import { loadServeConfig } from '../config/load.js';
import { formatConfig, formatDefault } from '../config/print-config.js';
import { ConfigError } from '../config/resolve.js';
import type { OptionSpec } from '../config/option-spec.js';
import { SERVE_OPTIONS, type ServeOptionName } from '../config/schema.js';
import { checkSignerOptions } from '../config/signer-config.js';
import { resolveWorkerCount } from '../config/worker-count.js';
import { createLogger } from '../server/logger.js';
import { startServer } from '../runtime/serve.js';
import { startCluster } from '../runtime/cluster/primary.js';
import { isClusterWorker, runWorker } from '../runtime/cluster/worker.js';
import { versionInfo } from '../version.js';
import { endQuietlyWhenStdoutCloses } from './closed-stdout.js';
import { errorLine, exitStatusOf } from './exit-status.js';
import { serveUntilSignalled } from './serve-lifecycle.js';
import { flagSpellings, isBooleanFlagAlone, normalizeFlags } from './go-flag-spellings.js';
import {
  excessArgumentsMessage,
  pointToHelpAfterErrors,
  serverExitStatusOf,
  throwInsteadOfExit,
} from './usage-errors.js';
import { versionCommand } from './version-command.js';

function flagFor(spec: OptionSpec<unknown>): Option {
  // The default as a flag value (durations as `30s`): what help shows, the parser accepts.
  const shown = formatDefault(spec);
  const description =
    shown === undefined ? spec.description : `${spec.description} (default: ${shown})`;
  // Booleans take an optional value so Go's --flag=false spelling works.
  const option =
    spec.kind === 'boolean'
      ? new Option(`--${spec.flag} [bool]`, description)
      : new Option(`--${spec.flag} <value>`, description);
  if (spec.kind === 'list') {
    // pflag string slices: comma-separated, repeatable; an empty value is an empty list
    // (readAsCSV), so `--accepted-policy-oids ''` clears the default.
    option.argParser((value: string, previous: string[] | undefined) => [
      ...(previous ?? []),
      ...(value === '' ? [] : value.split(',')),
    ]);
  }
  return option;
}

const serveOptions = Object.values(SERVE_OPTIONS) as OptionSpec<unknown>[];

const program = new Command('timestamp-server')
  .description('RFC 3161 time-stamp authority, wire-compatible with sigstore/timestamp-authority')
  // Go's flags are persistent: `timestamp-server --log-type=prod serve` works too. The root copies
  // see only what comes before the command; serve's own win.
  .enablePositionalOptions()
  .addHelpText('after', '\nEvery flag of serve may also come before it, as in the Go server.');
for (const spec of serveOptions) program.addOption(flagFor(spec).hideHelp());
program.addOption(new Option('--config <path>').hideHelp());

/**
 * The flags given before `serve` and after it, as pflag reads a persistent flag given twice: the
 * last value wins (serve's), and a list's values add up. Commander's optsWithGlobals let the first
 * win: `--port 7000 serve --port 8000` served on 7000.
 */
function mergedFlags(
  before: Record<string, unknown>,
  after: Record<string, unknown>,
): Record<string, unknown> {
  const merged = { ...before };
  for (const [name, value] of Object.entries(after)) {
    if (value === undefined) continue;
    const earlier = merged[name];
    const list = SERVE_OPTIONS[name as ServeOptionName]?.kind === 'list';
    merged[name] =
      list && Array.isArray(earlier) ? [...(earlier as unknown[]), ...(value as unknown[])] : value;
  }
  return merged;
}

const serve = program.command('serve').description('start the HTTP server');
for (const spec of serveOptions) serve.addOption(flagFor(spec));
serve
  .option(
    '--config <path>',
    'config file (default: timestamp-server.yaml, .yml or .json in $HOME, then .)',
  )
  .option('--print-config', 'print the effective configuration (secrets masked) and exit')
  // Refused in the action, which can say how a boolean's value is written.
  .allowExcessArguments();
serve.action(async (_options: unknown, command: Command) => {
  // A worker serves the primary's configuration (sent over IPC), never a reading of its own.
  if (isClusterWorker()) return runWorker();
  if (command.args.length > 0) {
    const typed = process.argv.slice(2);
    const isBoolean = (token: string) => isBooleanFlagAlone(token, spellings);
    command.error(excessArgumentsMessage(command, typed, isBoolean), {
      code: 'commander.excessArguments',
    });
  }
  const flags = mergedFlags(program.opts(), command.opts());
  let config;
  let configFile;
  let workers;
  let workerCount;
  let warnings;
  try {
    ({ config, configFile, warnings } = loadServeConfig({
      flags: flags as Partial<Record<ServeOptionName, unknown>>,
      configPath: flags['config'] as string | undefined,
    }));
    workerCount = resolveWorkerCount(config.workers);
    workers = workerCount.count;
    if (flags['printConfig']) {
      endQuietlyWhenStdoutCloses();
      process.stdout.write(formatConfig(config));
      return;
    }
    checkSignerOptions(config);
  } catch (error) {
    // The error line and serve's pointer to its help, as for commander's usage errors.
    if (error instanceof ConfigError) {
      command.error(`error: ${errorLine(error)}`, { exitCode: exitStatusOf(error) });
    }
    throw error;
  }
  const logger = createLogger(config.logType, config.logLevel);
  logger.info(`starting timestamp-server @ ${JSON.stringify(versionInfo())}`);
  if (configFile) logger.info(`Using config file: ${configFile}`);
  for (const warning of warnings) logger.warn(warning);
  if (workerCount.derivation) logger.info(workerCount.derivation);
  const status = await serveUntilSignalled(
    (signal) =>
      workers > 1
        ? startCluster(config, workers, logger, signal)
        : startServer(config, logger, { stop: signal }),
    { logger, gracefulTimeoutMs: config.gracefulTimeout },
  );
  if (status !== undefined) process.exitCode = status;
});

program.addCommand(
  versionCommand((text) => {
    endQuietlyWhenStdoutCloses();
    process.stdout.write(text);
  }),
);
// A usage error prints its line and a pointer to the command's help, then exits 2 (docs/cli.md).
pointToHelpAfterErrors(program);
throwInsteadOfExit(program);

const aliases = new Map(
  serveOptions.flatMap((spec) => (spec.aliases ?? []).map((alias) => [alias, spec.flag] as const)),
);
const spellings = flagSpellings([program, serve, ...program.commands], aliases);
try {
  await program.parseAsync(normalizeFlags(process.argv.slice(2), spellings), { from: 'user' });
} catch (error) {
  // commander has printed its message already.
  if (!(error instanceof CommanderError)) throw error;
  process.exitCode = serverExitStatusOf(error);
}
