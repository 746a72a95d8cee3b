import { Command } from 'commander';
import { versionInfo } from '../version.js';

/** `version [--json]`: the build facts, as both binaries print them. */
export function versionCommand(
  write: (text: string) => void = (text) => process.stdout.write(text),
): Command {
  return new Command('version')
    .description('print version information')
    .option('--json', 'print as JSON')
    .action((options: { json?: boolean }) => {
      const info = versionInfo();
      if (options.json) return write(`${JSON.stringify(info, null, 2)}\n`);
      for (const [key, value] of Object.entries(info)) write(`${`${key}:`.padEnd(14)}${value}\n`);
    });
}
