// The container engines the docker-backend tests run against, each brought
// up by its own script on a private socket: Docker (scripts/docker-env:
// Debian's dockerd, plus the registry on 127.0.0.1:5000 and the test images
// from scripts/docker-image) and Podman (scripts/podman-env: Debian's
// `podman system service` on its Docker-compatible API).  Podman pulls from
// the same registry, so its suite starts the Docker environment too.
//
// CORRAL_TEST_ENGINES (comma-separated, default "docker,podman") chooses.

import assert from 'node:assert/strict';
import path from 'node:path';

import { REPO, corralEnv, describeRun, run } from './lib.mjs';

/* KEY=VALUE lines of a script's stdout as an object. */
export function parseEnv(text) {
  const o = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line);
    if (m) o[m[1]] = m[2];
  }
  return o;
}

export const ENGINES = (process.env.CORRAL_TEST_ENGINES ?? 'docker,podman')
  .split(',').map((s) => s.trim()).filter(Boolean);

async function script(name, args, env = {}, timeout = 180000) {
  const r = await run(path.join(REPO, 'scripts', name), args, { env: corralEnv(env), timeout });
  if (r.code !== 0) throw new Error(`scripts/${name} ${args.join(' ')}: ${describeRun(r)}`);
  return parseEnv(r.stdout);
}

/* Starts what the engine's tests need.  Resolves {engine, DOCKER_HOST, sock,
 * registry, images (scripts/docker-image's lines), owned (the engine is ours
 * to stop), stop()}. */
export async function startEngine(engine) {
  const docker = await script('docker-env', ['start']);
  assert.match(docker.DOCKER_HOST ?? '', /^unix:\/\//, 'docker-env printed no DOCKER_HOST');
  const images = await script('docker-image', [], {
    DOCKER_HOST: docker.DOCKER_HOST, CORRAL_TEST_REGISTRY: docker.CORRAL_TEST_REGISTRY,
  }, 240000);
  let env = docker;
  let stopPodman = async () => {};
  if (engine === 'podman') {
    env = await script('podman-env', ['start'], { CORRAL_TEST_REGISTRY: docker.CORRAL_TEST_REGISTRY });
    assert.match(env.DOCKER_HOST ?? '', /^unix:\/\//, 'podman-env printed no DOCKER_HOST');
    if (env.CORRAL_PODMAN_ENV_STARTED) stopPodman = () => script('podman-env', ['stop']);
  } else if (engine !== 'docker') {
    throw new Error(`unknown engine ${engine}`);
  }
  return {
    engine,
    DOCKER_HOST: env.DOCKER_HOST,
    sock: env.DOCKER_HOST.slice('unix://'.length),
    registry: docker.CORRAL_TEST_REGISTRY,
    dockerHost: docker.DOCKER_HOST, // the Docker engine, for the docker CLI
    images,
    owned: engine === 'podman' ? /\bengine\b/.test(env.CORRAL_PODMAN_ENV_OWNED ?? '')
      : /\bengine\b/.test(docker.CORRAL_DOCKER_ENV_OWNED ?? ''),
    env,
    async stop() {
      await stopPodman();
      if (docker.CORRAL_DOCKER_ENV_STARTED) await script('docker-env', ['stop']);
    },
  };
}
