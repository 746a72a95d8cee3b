import { execFileSync } from 'node:child_process';

/** The suite drives openssl; `make test-deps` installs it. Fail early with the fix if it is missing. */
export default function setup(): void {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
  } catch {
    throw new Error('openssl is not installed: run `make test-deps` (or `make test`)');
  }
}
