import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseDockerfile } from '../../helpers/dockerfile.js';
import { REPO_ROOT } from '../../helpers/spawn-server.js';

const read = (file: string) => readFileSync(join(REPO_ROOT, file), 'utf8');

describe('licence', () => {
  it("LICENSE is the Apache License 2.0, word for word, as package.json's licence says", () => {
    const license = read('LICENSE');
    expect((JSON.parse(read('package.json')) as { license: string }).license).toBe('Apache-2.0');
    expect(license).toMatch(/^\s+Apache License\n\s+Version 2\.0, January 2004\n/);
    expect(license).toContain('END OF TERMS AND CONDITIONS');
    // https://www.apache.org/licenses/LICENSE-2.0.txt
    expect(createHash('sha256').update(license).digest('hex')).toBe(
      'cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30',
    );
  });

  it('NOTICE credits the Go timestamp-authority this is a port of', () => {
    const notice = read('NOTICE');
    expect(notice).toContain('https://github.com/sigstore/timestamp-authority');
    expect(notice).toContain('Copyright The Sigstore Authors');
    expect(notice).toContain('Apache License, Version 2.0');
  });

  it('both travel with the image and the npm package', () => {
    const deploy = parseDockerfile(read('Dockerfile')).find((stage) => stage.name === 'deploy');
    const copies = deploy?.instructions
      .filter((item) => item.keyword === 'COPY' && !item.args.startsWith('--from'))
      .flatMap((item) => item.args.split(/\s+/).slice(0, -1));
    expect(copies).toEqual(expect.arrayContaining(['LICENSE', 'NOTICE']));
    // npm packs LICENSE by itself, NOTICE only when `files` names it.
    expect((JSON.parse(read('package.json')) as { files: string[] }).files).toContain('NOTICE');
  });
});
