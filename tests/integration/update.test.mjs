// `corral update` of an npm server and `corral outdated`, against the npm
// registry stand-in (tests/fixtures/npm-registry/server.mjs): a server
// installed at an older version moves to the newest version its new range
// allows by the same atomic swap as install (new lock, every setting kept, a
// running daemon restarts it); a failing update leaves the old version in
// place and running.  The package's bin is the mock MCP server.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import {
  EX, MOCK_SERVER, REPO, cleanupRoot, corral, expectExit, newRoot, startDaemon, unitOf, waitReady,
  waitStatus,
} from './lib.mjs';

const { startRegistry } = await import(path.join(REPO, 'tests/fixtures/npm-registry/server.mjs'));

describe('corral update and outdated (npm)', { timeout: 180000 }, () => {
  let reg;
  let root;
  let daemon;
  const files = { 'cli.js': fs.readFileSync(MOCK_SERVER, 'utf8') };
  const pub = (v, deps, tag) => reg.publish('srv', v,
    { meta: { bin: 'cli.js', dependencies: deps }, files, ...(tag ? { tag } : {}) });
  const info = async () => {
    const r = await corral(['info', '--json', 'srv'], { root });
    expectExit(r, 0, 'info');
    return JSON.parse(r.stdout);
  };
  const installedVersion = () => JSON.parse(fs.readFileSync(
    path.join(root, 'servers/srv/pkg/node_modules/srv/package.json'), 'utf8')).version;

  before(async () => {
    process.env.CORRAL_NPM_METADATA_MAX_AGE = '0';
    reg = await startRegistry();
    reg.publish('dep', '1.0.0');
    reg.publish('dep', '1.1.0');
    pub('1.0.0', { dep: '1.0.0' });
    pub('1.1.0', { dep: '^1.1.0' });
    pub('1.2.0', { dep: '^1.1.0' });
    pub('2.0.0', { dep: '^1.0.0' });
    root = newRoot('update');
    fs.mkdirSync(path.join(root, 'shared'));
    const r = await corral(['install', 'npm:srv@1.0.0', '--registry', reg.url, '--yes',
      '--env', 'KEEP=me', '--mount', `${path.join(root, 'shared')}:/shared:ro`, '--', 'ok'],
    { root });
    expectExit(r, 0, 'install srv@1.0.0');
    expectExit(await corral(['access', 'srv', 'public'], { root }), 0, 'access');
    daemon = await startDaemon(root);
    await waitReady(root, ['srv']);
  });

  after(async () => {
    await daemon?.stop();
    await reg?.close();
    cleanupRoot(root);
  });

  test('outdated lists the wanted and latest versions', async () => {
    const r = await corral(['outdated', '--json', '--registry', reg.url], { root });
    expectExit(r, 0, 'outdated');
    assert.deepEqual(JSON.parse(r.stdout), [{
      name: 'srv', kind: 'npm', current: '1.0.0', wanted: '1.0.0', latest: '2.0.0', outdated: true,
    }]);
    const t = await corral(['outdated', '--registry', reg.url], { root });
    assert.match(t.stdout, /^srv\s+npm\s+1\.0\.0\s+1\.0\.0\s+2\.0\.0$/m);
  });

  test('--dry-run says what would change and changes nothing', async () => {
    const before_ = fs.readFileSync(path.join(root, 'servers/srv/manifest.json'), 'utf8');
    const r = await corral(['update', 'srv', '^1', '--dry-run', '--registry', reg.url], { root });
    expectExit(r, 0, 'update --dry-run');
    assert.equal(r.stdout.trim(), 'would update srv: version 1.0.0 -> 1.2.0');
    assert.equal(fs.readFileSync(path.join(root, 'servers/srv/manifest.json'), 'utf8'), before_);
  });

  test('update with a range: newest matching version, new lock, settings kept, unit restarted',
    async () => {
      const pid = unitOf(await waitReady(root, ['srv']), 'srv').pid;
      const r = await corral(['update', 'srv', '^1', '--registry', reg.url, '--json'], { root });
      expectExit(r, 0, 'update srv ^1');
      assert.deepEqual(JSON.parse(r.stdout), {
        name: 'srv', updated: true, dry_run: false, old_version: '1.0.0', version: '1.2.0',
      });
      assert.equal(installedVersion(), '1.2.0');
      const m = await info();
      assert.equal(m.source.spec, 'npm:srv@^1');
      assert.equal(m.source.resolved.version, '1.2.0');
      const lock = m.source.lock.map((l) => `${l.path} ${l.version}`).sort();
      assert.deepEqual(lock, ['node_modules/dep 1.1.0', 'node_modules/srv 1.2.0']);
      assert.deepEqual(m.runtime.env, { KEEP: 'me' });
      assert.deepEqual(m.runtime.command.slice(-1), ['ok']);
      assert.ok(m.sandbox.mounts.includes(`${path.join(root, 'shared')}:/shared:ro`));
      assert.equal(m.access.level, 'public');
      // The daemon was told: the unit runs the new code.
      await waitStatus(root, (st) => unitOf(st, 'srv')?.state === 'ready' &&
        unitOf(st, 'srv')?.pid !== pid, 'srv restarted on the new version');
      const again = await corral(['update', 'srv', '--registry', reg.url], { root });
      expectExit(again, 0, 'update srv again');
      assert.equal(again.stdout.trim(), 'srv is up to date (version 1.2.0)');
    });

  test('an update that fails leaves the installed version in place', async () => {
    pub('1.3.0', { dep: '^9.0.0' }); // nothing satisfies it
    const r = await corral(['update', 'srv', '--registry', reg.url], { root });
    expectExit(r, EX.NOINPUT, 'update to a version that cannot resolve');
    assert.equal(installedVersion(), '1.2.0');
    assert.equal((await info()).source.resolved.version, '1.2.0');
    assert.deepEqual(fs.readdirSync(path.join(root, 'staging')).filter((n) => !n.startsWith('.')),
      []);
    await waitReady(root, ['srv']);
  });

  test('VERSION is refused for servers that are not npm', async () => {
    const r = await corral(['update', 'nosuch', '^1'], { root });
    assert.notEqual(r.code, 0);
  });
});
