/**
 * The bench's command line (bench/options.ts): every option is checked before anything runs, and
 * --help prints the usage instead of running the suite.
 */
import { describe, expect, it } from 'vitest';
import { parseCommand, usage, UsageError } from '../../../bench/options.js';

describe('bench/options parseCommand', () => {
  it('reads a part, its options with a space or =, and its flags', () => {
    expect(
      parseCommand(['http', '--seconds', '1', '--pairs=2', '--no-pin', '--server-flags=--a b']),
    ).toEqual({
      part: 'http',
      help: false,
      args: { seconds: '1', pairs: '2', 'no-pin': 'true', 'server-flags': '--a b' },
    });
    expect(parseCommand(['--runs', '2'])).toEqual({
      part: undefined,
      help: false,
      args: { runs: '2' },
    });
  });

  it('takes --help and -h, with or without a part', () => {
    expect(parseCommand(['--help']).help).toBe(true);
    expect(parseCommand(['http', '-h'])).toMatchObject({ part: 'http', help: true });
    expect(usage('http')).toMatch(/--pairs <int> +alternations of the servers \(default 3\)/);
    expect(usage()).toMatch(/npm run bench -- soak/);
  });

  it.each([
    [['in-process', '--runs', 'abc'], /--runs "abc": must be a whole number of at least 1/],
    [['in-process', '--runs', '0'], /--runs "0"/],
    [['--seconds', 'abc'], /--seconds "abc"/],
    [['signing', '--seconds', '-1'], /must be a number above 0/],
    [['signing', '--seconds', '0'], /must be a number above 0/],
    [['http', '--seconds', '1.5'], /whole number/],
    [['in-process', '--concurrency', '0'], /--concurrency "0"/],
    [['http', '--pairs', '0'], /--pairs "0"/],
    [['in-process', '--keys', 'foo'], /--keys "foo": must be key kinds/],
    [['log-audit', '--certless', '2'], /from 0 to 1/],
    [['log-audit', '--jobs', '0,1'], /at least 1/],
    [['bogus'], /unknown part bogus/],
    [['http', '--bogus'], /unknown option --bogus for http/],
    [['http', 'extra'], /unexpected argument extra/],
    [['http', '--seconds'], /--seconds needs a value/],
    [['http', '--server-flags', '--log-type', 'prod'], /with =/],
    [['http', '--no-pin=yes'], /takes no value/],
    [['http', '--pairs', '1', '--pairs', '2'], /given twice/],
  ])('refuses %j', (argv, message) => {
    expect(() => parseCommand(argv)).toThrow(UsageError);
    expect(() => parseCommand(argv)).toThrow(message);
  });
});
