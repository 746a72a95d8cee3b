import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CodedError } from './errors.js';

export interface VersionInfo {
  gitVersion: string;
  gitCommit: string;
  gitTreeState: string;
  buildDate: string;
  nodeVersion: string;
  platform: string;
}

/** The package this code runs from cannot be found (a broken install). */
export class PackageError extends CodedError<'NO_PACKAGE_JSON'> {
  override name = 'PackageError';
}

/** The package root: the nearest folder above this module holding package.json (src/ or dist/src/). */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new PackageError('NO_PACKAGE_JSON', 'package.json not found');
    dir = parent;
  }
  return dir;
}

const readJson = (path: string): Record<string, string> | undefined =>
  existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as Record<string, string>) : undefined;

/** Version of this build; `make` writes build-info.json with the git facts. */
export function versionInfo(): VersionInfo {
  const root = packageRoot();
  const pkg = readJson(join(root, 'package.json')) ?? {};
  const build = readJson(join(root, 'build-info.json')) ?? {};
  return {
    gitVersion: build['gitVersion'] ?? `v${pkg['version'] ?? '0.0.0'}`,
    gitCommit: build['gitCommit'] ?? 'unknown',
    gitTreeState: build['gitTreeState'] ?? 'unknown',
    buildDate: build['buildDate'] ?? 'unknown',
    nodeVersion: process.version,
    platform: `${process.platform}/${process.arch}`,
  };
}
