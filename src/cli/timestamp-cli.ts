#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import {
  aliasOption,
  option,
  parseRequestTimeout,
  parseServerUrl,
} from './timestamp-cli/arguments.js';
import { endQuietlyWhenStdoutCloses } from './closed-stdout.js';
import { certificatesCommand } from './timestamp-cli/certificates-command.js';
import { abandonCliRequests } from './timestamp-cli/http-fetch.js';
import { unsetEmptyVariables, useConfigFile } from './timestamp-cli/cli-config.js';
import { inspectCommand } from './timestamp-cli/inspect-command.js';
import { logAuditCommand } from './timestamp-cli/log-audit-command.js';
import { logProofCommand } from './timestamp-cli/log-proof-command.js';
import { processOutput } from './timestamp-cli/output.js';
import { errorLine, exitStatusOf } from './exit-status.js';
import { pointToHelpAfterErrors } from './usage-errors.js';
import { versionCommand } from './version-command.js';
import { timestampCommand, type GlobalOptions } from './timestamp-cli/timestamp-command.js';
import { verifyCommand } from './timestamp-cli/verify-command.js';

const program = new Command('timestamp-cli')
  .description(
    'Timestamp CLI: fetch, verify and inspect RFC 3161 timestamps; make TSA certificate chains',
  )
  .exitOverride();

// Go spells it --timestamp_server; --timestamp-server is accepted too, as the same option.
const timestampServer = option(
  '--timestamp_server <url>',
  'URL of the timestamp server, http:// or https:// (only scheme, host and port are used)',
)
  .default('https://timestamp.sigstore.dev')
  .argParser(parseServerUrl);
program
  .addOption(timestampServer)
  .addOption(aliasOption('--timestamp-server <url>', timestampServer))
  .addOption(
    option('--format <format>', 'Command output format')
      .choices(['default', 'json'])
      .default('default'),
  )
  .addOption(
    option('--timeout <duration>', 'HTTP timeout (Go duration, at most 596h31m23.647s; 0: none)')
      .default(30_000, '30s')
      .argParser(parseRequestTimeout),
  )
  .addOption(option('--config <file>', 'config file (default is $HOME/.timestamp.yaml)'));

const globals = (): GlobalOptions => {
  const options = program.opts<{
    timestamp_server: string;
    format: 'default' | 'json';
    timeout: number;
  }>();
  return {
    timestampServer: options.timestamp_server,
    format: options.format,
    timeout: options.timeout,
  };
};

useConfigFile(program);

program.addCommand(timestampCommand(globals, processOutput));
program.addCommand(verifyCommand(globals, processOutput));
program.addCommand(inspectCommand(globals, processOutput));
program.addCommand(logProofCommand(globals, processOutput));
program.addCommand(logAuditCommand(globals, processOutput));
program.addCommand(certificatesCommand(globals, processOutput));
program.addCommand(versionCommand((text) => processOutput.stdout(text)));
// `timestamp-cli verify … | head -1`: the command's own status stands (process.exitCode).
endQuietlyWhenStdoutCloses();
// A usage error prints its line and a pointer to the command's help (exit status 1, as Go's cobra).
pointToHelpAfterErrors(program);
unsetEmptyVariables();
try {
  await program.parseAsync();
} catch (error) {
  if (error instanceof CommanderError) {
    process.exitCode = error.exitCode;
  } else {
    processOutput.stderr(`${errorLine(error)}\n`);
    process.exitCode = exitStatusOf(error);
  }
  // A failed command may leave requests running (a tile never answered, under --timeout 0):
  // the process ends with the command, not with them.
  abandonCliRequests();
}
