import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execForm, parseDockerfile, type Stage } from '../helpers/dockerfile.js';
import { tempDir } from '../helpers/openssl.js';
import { REPO_ROOT } from '../helpers/spawn-server.js';
import { helloTimeStampReq } from '../loadtest/request.js';

/** vitest's timeout 0: none. For work whose length is the machine's speed, not a hang. */
const NO_DEADLINE = 0;

/** Signals a process group (the image's command runs in its own, as PID 1's in a container). */
function stopGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (!pid) return; // -0 would be this process's own group
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

/**
 * Without a Docker engine, this runs the Dockerfile's stages the way the image build does: each
 * stage in its own directory (standing for the image's root), COPY from a clean copy of the
 * repository (git's files less .dockerignore) or from an earlier stage, RUN with bash. Then it
 * starts the deploy stage's ENTRYPOINT + CMD and runs its HEALTHCHECK.
 */
const work = tempDir();
/** The image's processes still running: their process groups are ended before the files go. */
const running = new Set<number>();
// No deadline on the hooks: removing three node_modules trees takes what the machine's disk takes.
afterAll(async () => {
  for (const pid of running) stopGroup(pid, 'SIGKILL');
  await rm(work.dir, { recursive: true, force: true });
}, NO_DEADLINE);

const stages = parseDockerfile(readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8'));
const stageByName = new Map(stages.map((stage) => [stage.name, stage]));
const context = work.path('context');

function cleanCopy(): void {
  // Comments skipped; a leading `/` anchors a pattern at the root, where this copy matches all.
  const ignored = readFileSync(join(REPO_ROOT, '.dockerignore'), 'utf8')
    .split('\n')
    .filter((line) => line && !line.startsWith('#'))
    .map((pattern) => pattern.replace(/^\//, ''));
  const files = execFileSync(
    'git',
    ['ls-files', '--cached', '--others', '--exclude-standard', '-z'],
    { cwd: REPO_ROOT, encoding: 'utf8' },
  )
    .split('\0')
    .filter((file) => file && existsSync(join(REPO_ROOT, file)))
    .filter(
      (file) =>
        !ignored.some((pattern) =>
          pattern.startsWith('*')
            ? file.endsWith(pattern.slice(1))
            : file === pattern || file.startsWith(`${pattern}/`),
        ),
    );
  for (const file of files) {
    mkdirSync(dirname(join(context, file)), { recursive: true });
    cpSync(join(REPO_ROOT, file), join(context, file));
  }
}

interface BuiltStage {
  root: string;
  workdir: string;
  env: Record<string, string>;
}
const built = new Map<string, BuiltStage>();

function buildStage(stage: Stage): BuiltStage {
  const done = built.get(stage.name);
  if (done) return done;
  const root = work.path(`stage-${stage.name}`);
  const parent = stageByName.get(stage.base);
  let state: BuiltStage = { root, workdir: '/', env: {} };
  if (parent) {
    const base = buildStage(parent);
    cpSync(base.root, root, { recursive: true, verbatimSymlinks: true });
    state = { ...base, root, env: { ...base.env } };
  } else {
    mkdirSync(root, { recursive: true });
  }
  const inRoot = (path: string) =>
    join(root, path.startsWith('/') ? path : join(state.workdir, path));
  for (const { keyword, args } of stage.instructions) {
    if (keyword === 'WORKDIR') {
      state.workdir = args;
      mkdirSync(inRoot(args), { recursive: true });
    } else if (keyword === 'ARG') {
      const [name = '', value = ''] = args.split('=');
      state.env[name] = value;
    } else if (keyword === 'ENV') {
      const [name = '', value = ''] = args.split('=');
      state.env[name] = value;
    } else if (keyword === 'COPY') {
      const from = /^--from=(\S+)\s+/.exec(args);
      const paths = args.replace(/^--from=\S+\s+/, '').split(/\s+/);
      const destination = paths.pop() ?? '.';
      const sourceRoot = from?.[1] ? buildStage(stageByName.get(from[1]) as Stage).root : context;
      for (const source of paths) {
        const target =
          paths.length > 1 || destination.endsWith('/')
            ? join(inRoot(destination), source.split('/').pop() ?? '')
            : inRoot(destination);
        cpSync(join(sourceRoot, source), target, { recursive: true, verbatimSymlinks: true });
      }
    } else if (keyword === 'RUN' && args.startsWith('apt-get ')) {
      // The host stands for the base image with these Debian packages (scripts/install-test-deps.sh
      // installs them); running apt-get here would change the host, so check they are there instead.
      const packages = /--no-install-recommends\s+([^&\\]+)/.exec(args)?.[1]?.trim().split(/\s+/);
      if (!packages?.length)
        throw new Error(`stage ${stage.name}: cannot read packages of RUN ${args}`);
      const present = spawnSync('dpkg', ['-s', ...packages], { encoding: 'utf8' });
      if (present.status !== 0)
        throw new Error(`stage ${stage.name}: packages missing on the host: ${packages.join(' ')}`);
    } else if (keyword === 'RUN') {
      const result = spawnSync('bash', ['-c', args], {
        cwd: inRoot('.'),
        env: { ...process.env, ...state.env, npm_config_prefer_offline: 'true' },
        encoding: 'utf8',
      });
      if (result.status !== 0)
        throw new Error(
          `stage ${stage.name}: RUN ${args} failed:\n${result.stdout}\n${result.stderr}`,
        );
    }
  }
  built.set(stage.name, state);
  return state;
}

const instruction = (stage: Stage, keyword: string) =>
  stage.instructions.find((item) => item.keyword === keyword)?.args ?? '';

describe('Dockerfile', () => {
  const deploy = stageByName.get('deploy') as Stage;

  it('runs as a non-root user on Node 24 slim, with production dependencies only', () => {
    expect(deploy.base).toBe('node:24-bookworm-slim');
    expect(instruction(deploy, 'USER')).toBe('node');
    expect(
      stageByName.get('deps')?.instructions.some(({ args }) => args.includes('npm ci --omit=dev')),
    ).toBe(true);
    // No option flags, which would beat -e variables and a mounted config file (image-config.test.ts).
    expect(execForm(instruction(deploy, 'CMD'))).toEqual(['serve']);
  });

  describe('built in a clean copy of the repository', () => {
    let image: BuiltStage;
    let app = '';
    beforeAll(() => {
      cleanCopy();
      image = buildStage(deploy);
      app = join(image.root, image.workdir);
    }, NO_DEADLINE);

    it('holds the compiled server, production dependencies only, the build info and the licence', () => {
      expect(existsSync(join(app, 'dist', 'src', 'cli', 'timestamp-server.js'))).toBe(true);
      expect(existsSync(join(app, 'node_modules', 'fastify'))).toBe(true);
      expect(existsSync(join(app, 'node_modules', 'vitest'))).toBe(false);
      // The PKCS#11 signer's native binding is compiled in the deps stage (no prebuilt binaries).
      expect(
        existsSync(join(app, 'node_modules', 'pkcs11js', 'build', 'Release', 'pkcs11.node')),
      ).toBe(true);
      expect(existsSync(join(app, 'src'))).toBe(false);
      expect(existsSync(join(app, 'LICENSE')) && existsSync(join(app, 'NOTICE'))).toBe(true);
      expect(JSON.parse(readFileSync(join(app, 'build-info.json'), 'utf8'))).toMatchObject({
        gitVersion: 'devel',
        gitTreeState: 'unknown',
      });
    });

    // A guard against a hang only: starting the server and two requests take seconds.
    it(
      'starts, passes its HEALTHCHECK, issues tokens and exits 0 on SIGTERM',
      { timeout: 300_000 },
      async () => {
        // The image's command, on loopback and ephemeral ports for the test (as `docker run -e`).
        const [program = '', ...entry] = execForm(instruction(deploy, 'ENTRYPOINT'));
        const command = [...entry, ...execForm(instruction(deploy, 'CMD'))];
        const child = spawn(
          program === 'node' ? process.execPath : program,
          [...command, '--metrics-port=0', '--log-type=prod'],
          {
            cwd: app,
            env: {
              PATH: process.env['PATH'] ?? '',
              HOME: app,
              ...image.env,
              HOST: '127.0.0.1',
              PORT: '0',
            },
            stdio: ['ignore', 'pipe', 'inherit'],
            detached: true,
          },
        );
        const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
        const pid = child.pid;
        if (pid) running.add(pid);
        void exited.then(() => pid && running.delete(pid));
        try {
          const url = await new Promise<string>((resolve, reject) => {
            let out = '';
            child.stdout.on('data', (chunk: Buffer) => {
              out += chunk.toString();
              const match = /serving timestamps on (http:\/\/[0-9.:]+)/.exec(out);
              if (match?.[1]) resolve(match[1]);
            });
            void exited.then(() => reject(new Error(`the image's command exited:\n${out}`)));
          });
          const healthcheck = execForm(
            instruction(deploy, 'HEALTHCHECK').replace(/^.*?CMD\s+/, ''),
          );
          // The check reads the port from $PORT, as in a container run with -e PORT=….
          const [checkProgram = '', ...checkArgs] = healthcheck;
          const check = spawnSync(
            checkProgram === 'node' ? process.execPath : checkProgram,
            checkArgs,
            { encoding: 'utf8', env: { ...image.env, PORT: new URL(url).port } },
          );
          expect(check.status).toBe(0);
          const response = await fetch(`${url}/api/v1/timestamp`, {
            method: 'POST',
            headers: { 'content-type': 'application/timestamp-query' },
            body: helloTimeStampReq(),
          });
          expect(response.status).toBe(200);
        } finally {
          // As `docker stop`: SIGTERM, then wait for the exit, however long the drain takes here.
          stopGroup(pid, 'SIGTERM');
        }
        expect(await exited).toBe(0);
      },
    );
  });
});
