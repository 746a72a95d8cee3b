import { Command, CommanderError } from 'commander';
import { describe, expect, it } from 'vitest';
import {
  pointToHelpAfterErrors,
  serverExitStatusOf,
  throwInsteadOfExit,
  withoutOptionValue,
} from '../../../src/cli/usage-errors.js';

/** A `tool serve` program whose output is captured; parses `args` and returns what it printed. */
async function parse(args: string[]) {
  let err = '';
  let out = '';
  const program = new Command('tool');
  program
    .command('serve')
    .option('--port <value>', 'port')
    .action(() => {});
  program.command('version').action(() => {});
  pointToHelpAfterErrors(program);
  throwInsteadOfExit(program);
  for (const command of [program, ...program.commands]) {
    command.configureOutput({
      writeErr: (text) => (err += text),
      writeOut: (text) => (out += text),
    });
  }
  let status = 0;
  try {
    await program.parseAsync(args, { from: 'user' });
  } catch (error) {
    if (!(error instanceof CommanderError)) throw error;
    status = serverExitStatusOf(error);
  }
  return { err, out, status };
}

describe('usage errors', () => {
  it('name an unknown --flag=value without its value (a secret under a mistyped name)', async () => {
    const SECRET = 'PLANTED_S3CRET_42';
    for (const [flag, shown, hint] of [
      [`--prot=${SECRET}`, '--prot', ''],
      [`-pot=${SECRET}`, '-pot', ''],
      [`--pasword=it's\n${SECRET}'`, '--pasword', ''],
    ] as const) {
      const { err, status } = await parse(['serve', flag]);
      expect(err).toBe(`error: unknown option '${shown}'${hint}\n(see tool serve --help)\n`);
      expect(status).toBe(2);
    }
    // Other errors as they were.
    expect(withoutOptionValue("error: option '--port <value>' argument missing\n")).toBe(
      "error: option '--port <value>' argument missing\n",
    );
  });

  it("print the error, the hint and a line pointing at the command's help, exit 2", async () => {
    expect(await parse(['serve', '--prot', '3000'])).toEqual({
      err: "error: unknown option '--prot'\n(Did you mean --port?)\n(see tool serve --help)\n",
      out: '',
      status: 2,
    });
    expect(await parse(['serve', 'extra'])).toMatchObject({
      err: expect.stringMatching(/^error: too many arguments.*\n\(see tool serve --help\)\n$/),
      status: 2,
    });
    expect(await parse(['serve', '--port'])).toMatchObject({
      err: "error: option '--port <value>' argument missing\n(see tool serve --help)\n",
      status: 2,
    });
    expect(await parse(['bogus'])).toMatchObject({
      err: "error: unknown command 'bogus'\n(see tool --help)\n",
      status: 2,
    });
  });

  it('no command: the help on stderr, exit 2; --help: the help on stdout, exit 0', async () => {
    const none = await parse([]);
    expect(none.err).toContain('Usage: tool');
    expect(none.status).toBe(2);
    const help = await parse(['serve', '--help']);
    expect(help.out).toContain('Usage: tool serve');
    expect(help).toMatchObject({ err: '', status: 0 });
  });

  it("keeps the status a command's own error asks for", () => {
    expect(serverExitStatusOf(new CommanderError(2, 'commander.error', 'refused'))).toBe(2);
    expect(serverExitStatusOf(new CommanderError(1, 'commander.error', 'failed'))).toBe(1);
    expect(serverExitStatusOf(new CommanderError(0, 'commander.version', '1.0'))).toBe(0);
  });
});
