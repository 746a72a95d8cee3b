import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  createWriteStream,
  lstatSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
} from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../../src/runtime/serve.js';
import { encodePem } from '../../../src/x509/pem.js';
import { CLI_JS, runCli } from '../../helpers/cli.js';
import { tempDir } from '../../helpers/openssl.js';
import { reapChild } from '../../helpers/process.js';
import { startLocalServer } from '../../helpers/tsa.js';

const FLAG_RULE =
  'the verify command must be called with either only the --certificate-chain flag or with the --root-certificates and --intermediate-certificates flags';

describe('timestamp-cli end to end against a running server (reference 12.3)', () => {
  const dir = tempDir();
  let server: RunningServer;
  let url: string;
  const cli = (args: string[], env: Record<string, string> = {}) =>
    runCli(args, { cwd: dir.dir, env });
  const shell = (command: string) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
      execFile(
        'sh',
        ['-c', command],
        { cwd: dir.dir, env: { PATH: process.env['PATH'] ?? '', HOME: dir.dir }, encoding: 'utf8' },
        (error, stdout, stderr) =>
          resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
      ),
    );

  beforeAll(async () => {
    server = await startLocalServer();
    url = server.url;
    const pem = (index: number) =>
      encodePem('CERTIFICATE', (server.chain[index] as { der: Buffer }).der);
    dir.write('myblob', 'myblob\n');
    dir.write('leaf.pem', pem(0));
    dir.write('intermediate.pem', pem(1));
    dir.write('root.pem', pem(2));
    dir.write('chain.pem', pem(1) + pem(2));
    dir.write('invalid.pem', 'invalid PEM');
    dir.write('invalid.tsr', 'invalid TSR');
    const response = await fetch(`${url}/api/v1/timestamp/certchain`);
    dir.write('ts_chain.pem', await response.text());
  });
  afterAll(async () => {
    await server.close();
    dir.cleanup();
  });

  it('the seed walkthrough: timestamp, verify --format json, inspect --format json', async () => {
    const stamped = await cli([
      '--timestamp_server',
      url,
      'timestamp',
      '--hash',
      'sha256',
      '--artifact',
      'myblob',
      '--out',
      'response.tsr',
    ]);
    expect(stamped.code).toBe(0);
    expect(stamped.stderr).toBe('Generating a new signed timestamp\n');
    expect(stamped.stdout).toMatch(
      /^Artifact timestamped at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+0000 UTC\nWrote timestamp response to response\.tsr\n$/,
    );
    expect(statSync(dir.path('response.tsr')).mode & 0o777).toBe(0o600);

    const verified = await cli([
      'verify',
      '--timestamp',
      'response.tsr',
      '--artifact',
      'myblob',
      '--certificate-chain',
      'ts_chain.pem',
      '--format',
      'json',
    ]);
    expect(verified.code).toBe(0);
    const verifiedJson = JSON.parse(verified.stdout) as {
      TimestampPath: string;
      ParsedTimestamp: { policy: string; messageImprint: { hashAlgorithm: string } };
    };
    expect(verifiedJson.TimestampPath).toBe('response.tsr');
    expect(verifiedJson.ParsedTimestamp.policy).toBe('1.3.6.1.4.1.57264.2');
    expect(verifiedJson.ParsedTimestamp.messageImprint.hashAlgorithm).toBe('sha256');

    const inspected = await cli(['inspect', '--timestamp', 'response.tsr', '--format', 'json']);
    expect(inspected.code).toBe(0);
    const inspectedJson = JSON.parse(inspected.stdout) as {
      TimestampResponse: { nonce: string; certificates: { subject: string }[]; tsaName: string };
      EmbeddedSignature: string;
    };
    expect(inspectedJson.TimestampResponse.nonce).toMatch(/^\d+$/);
    expect(inspectedJson.TimestampResponse.certificates.map((c) => c.subject)).toEqual([
      'O=local, CN=Test TSA Timestamping',
    ]);
    expect(inspectedJson.TimestampResponse.tsaName).toBe('O=local, CN=Test TSA Timestamping');
    expect(inspectedJson.EmbeddedSignature).toMatch(/^valid/);

    const text = await cli(['inspect', '--timestamp', 'response.tsr']);
    expect(text.code).toBe(0);
    const leafHash = createHash('sha256')
      .update(
        readFileSync(dir.path('leaf.pem'), 'utf8').replace(/-----[A-Z ]+-----|\s/g, ''),
        'base64',
      )
      .digest('hex');
    for (const line of [
      'Status:            granted',
      'Policy OID:        1.3.6.1.4.1.57264.2',
      'Accuracy:          1s 0ms 0us',
      'TSA name:          O=local, CN=Test TSA Timestamping',
      `Message digest:    ${createHash('sha256').update('myblob\n').digest('hex')}`,
      '    contentType: 1.2.840.113549.1.9.16.1.4',
      `    signingCertificateV2: certificate sha256 ${leafHash}`,
      '  [0] Subject:     O=local, CN=Test TSA Timestamping',
    ]) {
      expect(text.stdout).toContain(`${line}\n`);
    }
    expect(text.stdout).toMatch(/Serial number: {5}0x[0-9a-f]+\n/);
    expect(text.stdout).toMatch(/Time stamp: {8}\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\n/);
  });

  it('verify with --nonce, --oid and --common-name; with --root-certificates and --intermediate-certificates', async () => {
    await cli([
      '--timestamp_server',
      url,
      'timestamp',
      '--artifact',
      'myblob',
      '--out',
      'nonce.tsr',
    ]);
    const { stdout } = await cli(['inspect', '--timestamp', 'nonce.tsr', '--format', 'json']);
    const nonce = (JSON.parse(stdout) as { TimestampResponse: { nonce: string } }).TimestampResponse
      .nonce;
    const common = ['verify', '--timestamp', 'nonce.tsr', '--artifact', 'myblob'];
    const withChain = await cli([
      ...common,
      '--certificate-chain',
      'chain.pem',
      '--nonce',
      nonce,
      '--oid',
      '1.3.6.1.4.1.57264.2',
      '--common-name',
      'Test TSA Timestamping',
    ]);
    expect(withChain).toMatchObject({
      code: 0,
      stdout: 'Successfully verified timestamp nonce.tsr\n',
    });
    const withRoots = await cli([
      ...common,
      '--root-certificates',
      'root.pem',
      '--intermediate-certificates',
      'intermediate.pem',
    ]);
    expect(withRoots).toMatchObject({
      code: 0,
      stdout: 'Successfully verified timestamp nonce.tsr\n',
    });
    const wrongNonce = await cli([...common, '--certificate-chain', 'chain.pem', '--nonce', '456']);
    expect(wrongNonce.code).toBe(1);
    expect(wrongNonce.stderr).toBe(
      `failed to verify timestamp: incoming nonce 456 does not match TSR nonce ${nonce}\n`,
    );
    const wrongName = await cli([
      ...common,
      '--certificate-chain',
      'chain.pem',
      '--common-name',
      'Spoofed TSA',
    ]);
    expect(wrongName.code).toBe(1);
    expect(wrongName.stderr).toContain('does not match the provided Common Name Spoofed TSA');
  });

  it('a token without certificates verifies with --certificate leaf.pem', async () => {
    const stamped = await cli([
      '--timestamp_server',
      url,
      'timestamp',
      '--artifact',
      'myblob',
      '--certificate=false',
      '--nonce=false',
      '--out',
      'bare.tsr',
    ]);
    expect(stamped.code).toBe(0);
    const inspected = await cli(['inspect', '--timestamp', 'bare.tsr']);
    expect(inspected.stdout).toContain('Certificates:      (none embedded)');
    expect(inspected.stdout).toContain('Nonce:             (none)');
    const without = await cli([
      'verify',
      '--timestamp',
      'bare.tsr',
      '--artifact',
      'myblob',
      '--certificate-chain',
      'chain.pem',
    ]);
    expect(without.stderr).toBe(
      'failed to verify timestamp: leaf certificate must be present in the TSR or as a verify option\n',
    );
    const withLeaf = await cli([
      'verify',
      '--timestamp',
      'bare.tsr',
      '--artifact',
      'myblob',
      '--certificate-chain',
      'chain.pem',
      '--certificate',
      'leaf.pem',
    ]);
    expect(withLeaf).toMatchObject({
      code: 0,
      stdout: 'Successfully verified timestamp bare.tsr\n',
    });
    const twoCertificates = await cli([
      'verify',
      '--timestamp',
      'bare.tsr',
      '--artifact',
      'myblob',
      '--certificate-chain',
      'chain.pem',
      '--certificate',
      'chain.pem',
    ]);
    expect(twoCertificates.stderr).toBe('expected one certificate, received 2 instead\n');
  });

  it("refuses mixed or missing certificate flags with Go's message", async () => {
    await cli([
      '--timestamp_server',
      url,
      'timestamp',
      '--artifact',
      'myblob',
      '--out',
      'rule.tsr',
    ]);
    const base = ['verify', '--timestamp', 'rule.tsr', '--artifact', 'myblob'];
    const mixed = await cli([
      ...base,
      '--certificate-chain',
      'chain.pem',
      '--root-certificates',
      'root.pem',
      '--intermediate-certificates',
      'intermediate.pem',
    ]);
    expect(mixed).toMatchObject({ code: 1, stderr: `${FLAG_RULE}\n` });
    const none = await cli(base);
    expect(none).toMatchObject({ code: 1, stderr: `${FLAG_RULE}\n` });
  });

  it('reports an invalid TSR and an invalid PEM', async () => {
    const badTsr = await cli([
      'verify',
      '--timestamp',
      'invalid.tsr',
      '--artifact',
      'myblob',
      '--certificate-chain',
      'chain.pem',
    ]);
    expect(badTsr.code).toBe(1);
    expect(badTsr.stderr).toContain('error parsing response into Timestamp');
    const badInspect = await cli(['inspect', '--timestamp', 'invalid.tsr']);
    expect(badInspect.code).toBe(1);
    expect(badInspect.stderr).toContain('error parsing response into Timestamp');
    await cli(['--timestamp_server', url, 'timestamp', '--artifact', 'myblob', '--out', 'pem.tsr']);
    const badPem = await cli([
      'verify',
      '--timestamp',
      'pem.tsr',
      '--artifact',
      'myblob',
      '--certificate-chain',
      'invalid.pem',
    ]);
    expect(badPem).toMatchObject({
      code: 1,
      stderr: `failed to parse intermediate and root certs from PEM file invalid.pem (--certificate-chain): no certificates found in PEM\n`,
    });
  });

  it('fails verification of another artifact with a non-zero exit', async () => {
    dir.write('other', 'other\n');
    await cli([
      '--timestamp_server',
      url,
      'timestamp',
      '--artifact',
      'myblob',
      '--out',
      'other.tsr',
    ]);
    const result = await cli([
      'verify',
      '--timestamp',
      'other.tsr',
      '--artifact',
      'other',
      '--certificate-chain',
      'chain.pem',
    ]);
    expect(result).toMatchObject({
      code: 1,
      stdout: '',
      stderr: "failed to verify timestamp: hashed messages don't match\n",
    });
  });

  it('timestamp --format json, sha512, a policy, and the server refusing a policy', async () => {
    const json = await cli([
      '--timestamp_server',
      url,
      '--format',
      'json',
      'timestamp',
      '--artifact',
      'myblob',
      '--hash',
      'sha512',
      '--tsa-policy',
      '1.3.6.1.4.1.57264.2',
      '--out',
      'sha512.tsr',
    ]);
    expect(json.code).toBe(0);
    const parsed = JSON.parse(json.stdout) as { Timestamp: string; Location: string };
    expect(parsed.Location).toBe('sha512.tsr');
    expect(parsed.Timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const inspected = await cli(['inspect', '--timestamp', 'sha512.tsr']);
    expect(inspected.stdout).toContain('Hash algorithm:    sha512');
    const refused = await cli([
      '--timestamp_server',
      url,
      'timestamp',
      '--artifact',
      'myblob',
      '--tsa-policy',
      '1.2.3.4',
      '--out',
      'refused.tsr',
    ]);
    expect(refused.code).toBe(1);
    // The server answers the refusal with HTTP 200 and a rejection TimeStampResp.
    expect(refused.stderr).toMatch(/error getting timestamp: the request is rejected: .*policy/i);
  });

  it('takes the server from TIMESTAMP_TIMESTAMP_SERVER, --timestamp-server, or a --config file', async () => {
    const fromEnv = await cli(['timestamp', '--artifact', 'myblob', '--out', 'env.tsr'], {
      TIMESTAMP_TIMESTAMP_SERVER: url,
    });
    expect(fromEnv.code).toBe(0);
    const dashed = await cli([
      '--timestamp-server',
      url,
      'timestamp',
      '--artifact',
      'myblob',
      '--out',
      'dashed.tsr',
    ]);
    expect(dashed.code).toBe(0);
    dir.write('cli.yaml', `timestamp_server: ${url}\nformat: json\n`);
    const fromConfig = await cli([
      '--config',
      'cli.yaml',
      'timestamp',
      '--artifact',
      'myblob',
      '--out',
      'config.tsr',
    ]);
    expect(fromConfig.code).toBe(0);
    expect(JSON.parse(fromConfig.stdout)).toMatchObject({ Location: 'config.tsr' });
    const envBeatsConfig = await cli(
      ['--config', 'cli.yaml', 'timestamp', '--artifact', 'myblob', '--out', 'config2.tsr'],
      { TIMESTAMP_FORMAT: 'default' },
    );
    expect(envBeatsConfig.stdout).toMatch(/^Artifact timestamped at/);
    expect(readFileSync(dir.path('config.tsr')).length).toBeGreaterThan(0);
  });

  it.each([
    [['--timestamp_server', '', 'timestamp', '--artifact', 'myblob'], /is not a valid url/],
    [
      ['--timestamp_server', 'ldap://localhost:3000', 'timestamp', '--artifact', 'myblob'],
      /must start with http or https/,
    ],
    [
      [
        '--timestamp_server',
        'hteeteepeeColonSlashSlashlocalhost:3000',
        'timestamp',
        '--artifact',
        'myblob',
      ],
      /must start with http or https|not a valid url/,
    ],
    [
      ['--timestamp_server', '/localhost', 'timestamp', '--artifact', 'myblob'],
      /is not a valid url/,
    ],
    [['timestamp', '--artifact', 'missing-file'], /file missing-file does not exist/],
    [
      ['timestamp', '--artifact', 'myblob', '--hash', 'md5'],
      /invalid hash algorithm - must be either sha256, sha384, or sha512/,
    ],
    [['timestamp', '--artifact', 'myblob', '--tsa-policy', '1.a.3.4'], /is not a valid OID/],
    [['timestamp'], /required option '--artifact <file>' not specified/],
    [
      ['--format', 'yaml', 'inspect', '--timestamp', 'invalid.tsr'],
      /Allowed choices are default, json/,
    ],
    [['--timeout', 'soon', 'inspect', '--timestamp', 'invalid.tsr'], /invalid duration/],
  ])('rejects bad flags: %j', async (args, message) => {
    const result = await cli(args);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(message);
  });

  it('shows progress while hashing an artifact takes more than a second', async () => {
    // A FIFO that we keep open until the progress line appears: the hashing lasts as long as we want.
    execFileSync('mkfifo', [dir.path('slow-artifact')]);
    const child = execFile(
      process.execPath,
      [
        CLI_JS,
        '--timestamp_server',
        url,
        'timestamp',
        '--artifact',
        'slow-artifact',
        '--out',
        'slow.tsr',
      ],
      {
        cwd: dir.dir,
        env: { PATH: process.env['PATH'] ?? '', HOME: dir.dir },
      },
    );
    // Blocked on the FIFO should the test fail before the write: killed then.
    reapChild(child);
    let stderr = '';
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    const progressShown = new Promise<void>((resolve) =>
      child.stderr?.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        if (stderr.includes('MB read')) resolve();
      }),
    );
    const writer = createWriteStream(dir.path('slow-artifact'));
    writer.write(Buffer.alloc(1 << 20, 1));
    await progressShown;
    writer.end();
    expect(await exited).toBe(0);
    expect(stderr).toMatch(/hashing slow-artifact: 1\.0 MB read/);
  });

  it('--out replaces a symlink instead of writing through it, and is 0600 whatever existed', async () => {
    const victim = dir.write('victim.txt', 'precious\n');
    chmodSync(victim, 0o644);
    symlinkSync(victim, dir.path('linked.tsr'));
    chmodSync(dir.write('existing.tsr', 'old'), 0o644);
    for (const out of ['linked.tsr', 'existing.tsr']) {
      const result = await cli([
        '--timestamp_server',
        url,
        'timestamp',
        '--artifact',
        'myblob',
        '--out',
        out,
      ]);
      expect(result.code, result.stderr).toBe(0);
      const written = lstatSync(dir.path(out));
      expect(written.isFile()).toBe(true);
      expect(written.mode & 0o777).toBe(0o600);
      expect(readFileSync(dir.path(out))[0]).toBe(0x30); // a DER TimeStampResp
    }
    // The link's target is untouched: neither overwritten nor re-moded.
    expect(readFileSync(victim, 'utf8')).toBe('precious\n');
    expect(statSync(victim).mode & 0o777).toBe(0o644);
    // No temporary file is left beside the output.
    expect(readdirSync(dir.dir).filter((name) => name.endsWith('.tmp'))).toEqual([]);
  });

  it('gives up on a server that does not answer after --timeout', async () => {
    const { createServer } = await import('node:net');
    const sockets: import('node:net').Socket[] = [];
    const silent = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as { port: number };
    try {
      const result = await cli([
        '--timestamp_server',
        `http://127.0.0.1:${port}`,
        '--timeout',
        '300ms',
        'timestamp',
        '--artifact',
        'myblob',
        '--out',
        't.tsr',
      ]);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/error getting timestamp: .*timeout/i);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it('--out /dev/stdout writes the DER response alone there, the summary on stderr: it pipes into inspect', async () => {
    // Through sh: node's own child stdout is a socket, which /dev/stdout cannot open.
    const node = `"${process.execPath}" "${CLI_JS}"`;
    const piped = await shell(
      `${node} --timestamp_server ${url} timestamp --artifact myblob --out /dev/stdout 2>stamp.err` +
        ` | ${node} inspect --timestamp /dev/stdin`,
    );
    expect(piped.stderr).toBe('');
    expect(piped.code).toBe(0);
    expect(piped.stdout).toMatch(/^Status: {12}granted\n/);
    expect(readFileSync(dir.path('stamp.err'), 'utf8')).toMatch(
      /^Generating a new signed timestamp\nArtifact timestamped at .*\nWrote timestamp response to \/dev\/stdout\n$/,
    );
    const json = await shell(
      `${node} --timestamp_server ${url} --format json timestamp --artifact myblob --out /dev/stdout 2>/dev/null | od -An -tx1 | head -c 3`,
    );
    expect(json.stdout.trim()).toBe('30'); // the DER SEQUENCE first, no JSON line before or after
  });

  it('reports an unreachable server without a stack trace', async () => {
    const closed = await startLocalServer();
    const closedUrl = closed.url;
    await closed.close();
    const result = await cli([
      '--timestamp_server',
      closedUrl,
      'timestamp',
      '--artifact',
      'myblob',
      '--out',
      'x.tsr',
    ]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /^Generating a new signed timestamp\nerror getting timestamp: fetch failed: .*ECONNREFUSED/,
    );
  });
});
