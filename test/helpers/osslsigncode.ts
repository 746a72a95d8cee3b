import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { openssl, type tempDir } from './openssl.js';

const run = promisify(execFile);

/**
 * Authenticode-signs a small PowerShell script in `dir` with a throwaway code-signing key and an
 * RFC 3161 countersignature from `tsaUrl` (osslsigncode signs .ps1 files; an MSI/CAB needs tools
 * we lack, a PE a compiler). Leaves code.pem and signed.ps1 in `dir`.
 */
export async function signScriptWithTimestamp(
  dir: ReturnType<typeof tempDir>,
  tsaUrl: string,
): Promise<void> {
  await openssl([
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    dir.path('code.key'),
    '-out',
    dir.path('code.pem'),
    '-subj',
    '/CN=Code Signer',
    '-days',
    '30',
  ]);
  dir.write('script.ps1', 'Write-Output "hello"\r\n');
  await run(
    'osslsigncode',
    [
      'sign',
      '-certs',
      'code.pem',
      '-key',
      'code.key',
      '-ts',
      tsaUrl,
      '-in',
      'script.ps1',
      '-out',
      'signed.ps1',
    ],
    { cwd: dir.dir },
  );
}

/** What `osslsigncode verify` prints for signed.ps1 with `tsaRoot` as the TSA's CA (also on failure). */
export function verifySignedScript(
  dir: ReturnType<typeof tempDir>,
  tsaRoot: string,
): Promise<string> {
  return run(
    'osslsigncode',
    ['verify', '-CAfile', 'code.pem', '-TSA-CAfile', tsaRoot, '-in', 'signed.ps1'],
    { cwd: dir.dir },
  ).then(
    ({ stdout }) => stdout,
    (error: { stdout: string; stderr: string }) => error.stdout + error.stderr,
  );
}
