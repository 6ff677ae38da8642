// A git source whose tree has a Dockerfile (and no package.json): corral
// sends the tree as a build context to a real dockerd (POST /build), RUN
// steps have no network, the server runs under the docker backend pinned by
// the image id the build gave, and its tools are called through the gateway.
// The base image is the test registry's node image (scripts/docker-image),
// so nothing is fetched from outside.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { gitEnv as gitEnvFor, gitRunner } from './gitutil.mjs';

import { startEngine } from './engines.mjs';
import {
  EX, MOCK_SERVER, cleanupRoot, corral, exclusiveLock, expectExit, expectOneLineError, newRoot,
  startDaemon, waitReady,
} from './lib.mjs';

const DOCKER_LOCK = '/tmp/corral-docker-tests.lock';
const work = newRoot('gitdocker');
const gitEnv = gitEnvFor(work);

const git = gitRunner(gitEnv);

/* A bare repository work/NAME.git with files committed on main; its file:// URL. */
function makeRepo(name, files) {
  const dir = path.join(work, 'wt', name);
  fs.mkdirSync(dir, { recursive: true });
  git(dir, 'init', '-q', '-b', 'main');
  for (const [p, c] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, p)), { recursive: true });
    fs.writeFileSync(path.join(dir, p), c);
  }
  git(dir, 'add', '-A');
  git(dir, 'commit', '-q', '-m', 'initial');
  git(work, 'clone', '-q', '--bare', dir, path.join(work, `${name}.git`));
  return `file://${path.join(work, `${name}.git`)}`;
}

describe('a git source built from its Dockerfile', { timeout: 600000 }, () => {
  let lock;
  let eng;
  let listener;
  let hits = 0;

  before(async () => {
    lock = await exclusiveLock(DOCKER_LOCK);
    eng = await startEngine('docker');
    listener = net.createServer((s) => { hits++; s.destroy(); });
    await new Promise((r) => listener.listen(0, '0.0.0.0', r));
  });

  after(async () => {
    if (listener) listener.close();
    if (eng) await eng.stop();
    if (lock) await lock.release();
    cleanupRoot(work);
  });

  test('the image is built without network, pinned by id, and its tools are called', async () => {
    const base = eng.images.CORRAL_TEST_IMAGE_A;
    assert.ok(base, 'scripts/docker-image named the base image');
    const url = makeRepo('dockerized', {
      Dockerfile: [
        `FROM ${base}`,
        'COPY server.mjs /srv/server.mjs',
        'RUN ["/usr/bin/node", "-e", "require(\'fs\').writeFileSync(\'/srv/built.txt\', \'built\')"]',
        'ENTRYPOINT ["/usr/bin/node", "/srv/server.mjs"]',
        'CMD ["ok"]',
        '',
      ].join('\n'),
      'server.mjs': fs.readFileSync(MOCK_SERVER, 'utf8'),
    });
    const root = newRoot('gitdocker1');
    let d;
    try {
      const r = await corral(['install', url, '--name', 'dockerized', '--yes'],
        { root, env: { DOCKER_HOST: eng.DOCKER_HOST }, timeout: 300000 });
      expectExit(r, 0);
      const m = JSON.parse(fs.readFileSync(path.join(root, 'servers', 'dockerized', 'manifest.json'), 'utf8'));
      assert.equal(m.runtime.backend, 'docker');
      assert.deepEqual(m.runtime.command, ['/usr/bin/node', '/srv/server.mjs', 'ok']);
      assert.match(m.source.resolved.digest, /^sha256:[0-9a-f]{64}$/);
      assert.match(fs.readFileSync(path.join(root, 'log', 'dockerized.log'), 'utf8'), /image build: sha256:/);

      d = await startDaemon(root, { env: { DOCKER_HOST: eng.DOCKER_HOST } });
      await waitReady(root, ['dockerized'], 120000);
      const c = await corral(['call', 'dockerized__echo', 'text=from-a-dockerfile'], { root });
      expectExit(c, 0);
      assert.match(c.stdout, /from-a-dockerfile/);
    } finally {
      if (d) await d.stop();
      cleanupRoot(root);
    }
  });

  // The test engine runs without a bridge, so this shows the failure path
  // (one line, nothing installed, nothing reached), not networkmode=none
  // itself, which the request always carries (src/docker/build.c).
  test('a RUN step cannot reach the network; the install fails clearly and leaves nothing', async () => {
    const { port } = listener.address();
    const url = makeRepo('phones-home', {
      Dockerfile: [
        `FROM ${eng.images.CORRAL_TEST_IMAGE_A}`,
        `RUN ["/usr/bin/node", "-e", "require('net').connect(${port}, '172.17.0.1').on('connect', () => process.exit(0)).on('error', (e) => { console.log('blocked', e.code); process.exit(7); })"]`,
        'ENTRYPOINT ["/usr/bin/node"]',
        '',
      ].join('\n'),
    });
    const root = newRoot('gitdocker2');
    try {
      const before0 = hits;
      const r = await corral(['install', url, '--name', 'phones', '--yes'],
        { root, env: { DOCKER_HOST: eng.DOCKER_HOST }, timeout: 300000 });
      expectExit(r, EX.DATAERR);
      expectOneLineError(r, ['image build failed']);
      assert.equal(hits, before0, 'the build reached the host');
      assert.equal(fs.existsSync(path.join(root, 'servers', 'phones')), false);
    } finally {
      cleanupRoot(root);
    }
  });
});
