// npm's placement and version-choice rules, each on a registry stand-in case
// (tests/fixtures/npm-registry/server.mjs): corral's tree must hold exactly
// the places the issue states (the relative path of every package directory
// and its name@version), and exactly the places real npm
// (`npm install --omit=dev --ignore-scripts`) gives against the same stand-in
// in the same run.
//
//   app-a  peer-driven replacement: a@^1 is hoisted as 1.1.0, then b's peer
//          a@1.0.0 replaces it (1.0.0 still satisfies app-a) instead of a
//          private copy under b.
//   app-b  peer-aware placement: p (peer z@^2) stays beside m's z@2 instead of
//          being hoisted next to the root's z@1.
//   app-c  a peer that conflicts with its dependent's own version: the peer
//          goes to the top (it cannot nest inside its dependent), the
//          dependent's version nests under the dependent.
//   app-d  a duplicate an older version dedupes: q's peer r@1.0.0 replaces the
//          hoisted r@1.2.0 that app-d's r@^1 picked.
//   app-e  engines: the latest version wants a newer node, so the highest
//          version that suits this node is taken, for the root and for a
//          dependency; when no version suits, the highest is taken, a warning
//          is printed and the manifest records it.
//   app-n  optional packages of other platforms: in the lock (optional,
//          inert, with their os/cpu), not installed; --frozen agrees.
//   app-g  a peer set placed as a group: k needs g and h@^2; g has the peer
//          i, i the peer h@^2; the top holds h@1, so g cannot be hoisted
//          (its peer's peer would meet h@1) and stays under k with i and h@2.
//   app-l  an optional peer that is not installed: ui's optional peer fw is
//          loaded into the peer set with fw's own peer rx, but fw's
//          dependency fw-dep is never fetched (packuments are fetched past an
//          optional peer only as the tree asks).
//   app-m  the same kind of optional peer placed after all: q's optional
//          peer x@^2 meets the top's x@1, so q and x@2 nest under m, and x@2's
//          dependency y, which no packument fetched ahead named, is fetched
//          when the tree places it.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { REPO, cleanupRoot, corral, expectExit, newRoot, run } from './lib.mjs';

const { startRegistry } = await import(path.join(REPO, 'tests/fixtures/npm-registry/server.mjs'));
const { places, placeDiff } = await import(path.join(REPO, 'tests/fixtures/npm-registry/places.mjs'));

const BIN = { bin: 'cli.js' };
const FILES = { 'cli.js': '#!/usr/bin/env node\nconsole.log("hi");\n' };

const CASES = {
  'app-a': [
    'node_modules/a a@1.0.0',
    'node_modules/app-a app-a@1.0.0',
    'node_modules/b b@1.0.0',
  ],
  'app-b': [
    'node_modules/app-b app-b@1.0.0',
    'node_modules/m m@1.0.0',
    'node_modules/m/node_modules/p p@1.0.0',
    'node_modules/m/node_modules/z z@2.0.0',
    'node_modules/z z@1.0.0',
  ],
  'app-c': [
    'node_modules/app-c app-c@1.0.0',
    'node_modules/app-c/node_modules/c c@1.0.0',
    'node_modules/c c@2.0.0',
    'node_modules/gc gc@1.0.0',
  ],
  'app-d': [
    'node_modules/app-d app-d@1.0.0',
    'node_modules/q q@1.0.0',
    'node_modules/r r@1.0.0',
  ],
  'app-e': [
    'node_modules/app-e app-e@1.0.0',
    'node_modules/eng eng@1.1.0',
  ],
  'app-g': [
    'node_modules/app-g app-g@1.0.0',
    'node_modules/h h@1.0.0',
    'node_modules/k k@1.0.0',
    'node_modules/k/node_modules/g g@1.0.0',
    'node_modules/k/node_modules/h h@2.0.0',
    'node_modules/k/node_modules/i i@1.0.0',
  ],
  'app-l': [
    'node_modules/app-l app-l@1.0.0',
    'node_modules/ui ui@1.0.0',
  ],
  'app-m': [
    'node_modules/app-m app-m@1.0.0',
    'node_modules/m2 m2@1.0.0',
    'node_modules/m2/node_modules/q2 q2@1.0.0',
    'node_modules/m2/node_modules/x x@2.0.0',
    'node_modules/x x@1.0.0',
    'node_modules/y y@1.0.0',
  ],
};

describe('npm: placement rules against real npm', { timeout: 300000 }, () => {
  let reg;
  let root;
  let work;

  before(async () => {
    process.env.CORRAL_NPM_METADATA_MAX_AGE = '0';
    reg = await startRegistry();
    root = newRoot('npmplace');
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-npmplace-'));
    const pub = (name, version, meta = {}, opts = {}) => reg.publish(name, version, { meta, ...opts });

    // app-a: replacement for a peer.
    pub('a', '1.0.0');
    pub('a', '1.1.0');
    pub('b', '1.0.0', { peerDependencies: { a: '1.0.0' } });
    pub('app-a', '1.0.0', { ...BIN, dependencies: { a: '^1.0.0', b: '1.0.0' } }, { files: FILES });

    // app-b: placement that respects the placed package's own peers.
    pub('z', '1.0.0');
    pub('z', '2.0.0');
    pub('p', '1.0.0', { peerDependencies: { z: '^2.0.0' } });
    pub('m', '1.0.0', { dependencies: { z: '^2.0.0', p: '^1.0.0' } });
    pub('app-b', '1.0.0', { ...BIN, dependencies: { z: '1.0.0', m: '^1.0.0' } }, { files: FILES });

    // app-c: a peer the dependent's own version does not satisfy takes the
    // top; the dependent's copy nests.
    pub('c', '1.0.0');
    pub('c', '2.0.0');
    pub('gc', '1.0.0', { peerDependencies: { c: '^2.0.0' } });
    pub('app-c', '1.0.0', { ...BIN, dependencies: { c: '1.0.0', gc: '^1.0.0' } }, { files: FILES });

    // app-d: an older version replaces a hoisted newer one all can share.
    pub('r', '1.0.0');
    pub('r', '1.2.0');
    pub('q', '1.0.0', { peerDependencies: { r: '1.0.0' } });
    pub('app-d', '1.0.0', { ...BIN, dependencies: { r: '^1.0.0', q: '1.0.0' } }, { files: FILES });

    // app-e: engines.  The latest of each wants a node no host has.
    pub('eng', '1.0.0');
    pub('eng', '1.1.0', { engines: { node: '>=0.10' } });
    pub('eng', '2.0.0', { engines: { node: '>=999' } });
    pub('app-e', '1.0.0', { ...BIN, dependencies: { eng: '*' } }, { files: FILES });
    pub('app-e', '1.1.0', { ...BIN, engines: { node: '>=999' }, dependencies: { eng: '*' } },
      { files: FILES });
    pub('toonew', '1.0.0', { ...BIN, engines: { node: '>=998' } }, { files: FILES });
    pub('toonew', '1.1.0', { ...BIN, engines: { node: '>=999' } }, { files: FILES });

    // app-n: optional platform packages, one per os (native's helper only
    // the win32 one needs).
    pub('native-win', '1.0.0', { os: ['win32'], cpu: ['x64'], dependencies: { 'win-helper': '^1.0.0' } });
    pub('win-helper', '1.0.0');
    pub('native-linux', '1.0.0', { os: ['linux'] });
    pub('app-n', '1.0.0', { ...BIN,
      optionalDependencies: { 'native-win': '^1.0.0', 'native-linux': '^1.0.0' } }, { files: FILES });

    // app-g: a peer set checked as a group.
    pub('h', '1.0.0');
    pub('h', '2.0.0');
    pub('i', '1.0.0', { peerDependencies: { h: '^2.0.0' } });
    pub('g', '1.0.0', { peerDependencies: { i: '^1.0.0' } });
    pub('k', '1.0.0', { dependencies: { g: '^1.0.0', h: '^2.0.0' } });
    pub('app-g', '1.0.0', { ...BIN, dependencies: { h: '1.0.0', k: '^1.0.0' } }, { files: FILES });

    // app-l: an optional peer left out, with a dependency nobody fetches.
    const optPeer = (name) => ({ peerDependenciesMeta: { [name]: { optional: true } } });
    pub('fw-dep', '1.0.0');
    pub('rx', '1.0.0');
    pub('fw', '1.0.0', { dependencies: { 'fw-dep': '^1.0.0' }, peerDependencies: { rx: '^1.0.0' } });
    pub('ui', '1.0.0', { peerDependencies: { fw: '^1.0.0' }, ...optPeer('fw') });
    pub('app-l', '1.0.0', { ...BIN, dependencies: { ui: '^1.0.0' } }, { files: FILES });

    // app-m: an optional peer that is placed, with a dependency of its own.
    pub('y', '1.0.0');
    pub('x', '1.0.0');
    pub('x', '2.0.0', { dependencies: { y: '^1.0.0' } });
    pub('q2', '1.0.0', { peerDependencies: { x: '^2.0.0' }, ...optPeer('x') });
    pub('m2', '1.0.0', { dependencies: { q2: '^1.0.0' } });
    pub('app-m', '1.0.0', { ...BIN, dependencies: { x: '1.0.0', m2: '^1.0.0' } }, { files: FILES });
  });

  after(async () => {
    delete process.env.CORRAL_NPM_METADATA_MAX_AGE;
    await reg?.close();
    cleanupRoot(root);
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  /* npm's own tree for spec against the stand-in (a private npm cache, so
   * nothing leaks between runs or into the user's cache). */
  async function npmTree(spec) {
    const dir = fs.mkdtempSync(path.join(work, 'npm-'));
    const r = await run('npm', ['install', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund',
      '--no-update-notifier', '--loglevel=error', '--registry', reg.url,
      '--cache', path.join(work, 'npm-cache'), spec], { cwd: dir, timeout: 120000 });
    expectExit(r, 0, `npm install ${spec}`);
    return places(path.join(dir, 'node_modules'));
  }

  async function corralTree(spec, name) {
    const r = await corral(['install', `npm:${spec}`, '--name', name, '--yes', '--json',
      '--registry', reg.url], { root, timeout: 120000 });
    expectExit(r, 0, `corral install ${spec}`);
    return { tree: places(path.join(root, 'servers', name, 'pkg', 'node_modules')),
      manifest: JSON.parse(r.stdout), stderr: r.stderr };
  }

  for (const [app, want] of Object.entries(CASES)) {
    test(`${app}: the tree npm builds`, async () => {
      const [mine, npms] = await Promise.all([corralTree(app, app), npmTree(app)]);
      assert.deepEqual(mine.tree, want, `${app}: corral's tree`);
      const d = placeDiff(npms, mine.tree);
      assert.deepEqual(d, { onlyA: [], onlyB: [] }, `${app}: npm-only vs corral-only places`);
      // The lock lists every place with its version.
      assert.deepEqual(mine.manifest.source.lock.map((l) => `${l.path} ${l.name}@${l.version}`).sort(),
        want);
    });
  }

  test('past a missing optional peer only what the tree asks for is fetched', async () => {
    // app-l's tree alone against the stand-in: fw and its peer rx are read
    // (arborist loads them into the peer set) as their latest manifests
    // (NAME/latest), not their whole packuments; fw's dependency not at all.
    reg.resetCounts();
    const mine = await corralTree('app-l', 'app-l2');
    assert.deepEqual(mine.tree, CASES['app-l']);
    const asked = reg.requests.map((q) => decodeURIComponent(q.url.split('?')[0]));
    assert.ok(asked.includes('/fw/latest'), asked.join(', '));
    assert.ok(asked.includes('/rx/latest'), asked.join(', '));
    assert.ok(!asked.includes('/fw') && !asked.includes('/rx'), asked.join(', '));
    assert.ok(!asked.some((u) => u.startsWith('/fw-dep')), asked.join(', '));
    // app-m's x@^2 (an optional peer) is placed: the part is not enough,
    // the whole document and then x@2's dependency y are fetched.
    reg.resetCounts();
    const m = await corralTree('app-m', 'app-m2');
    assert.deepEqual(m.tree, CASES['app-m']);
    const askedM = reg.requests.map((q) => decodeURIComponent(q.url.split('?')[0]));
    assert.ok(askedM.includes('/y'), askedM.join(', '));
  });

  test('a registry without NAME/latest: whole packuments, the same trees', async () => {
    reg.options.manifests = false;
    try {
      for (const app of ['app-l', 'app-m']) {
        reg.resetCounts();
        const mine = await corralTree(app, `${app}3`);
        assert.deepEqual(mine.tree, CASES[app], app);
        const asked = reg.requests.map((q) => decodeURIComponent(q.url.split('?')[0]));
        if (app === 'app-l') assert.ok(asked.includes('/fw') && asked.includes('/rx'), asked.join(', '));
      }
    } finally {
      reg.options.manifests = true;
    }
  });

  test('the lock lists optional packages of other platforms, not installed', async () => {
    const mine = await corralTree('app-n', 'app-n');
    const want = ['node_modules/app-n app-n@1.0.0', 'node_modules/native-linux native-linux@1.0.0'];
    assert.deepEqual(mine.tree, want);
    assert.deepEqual(await npmTree('app-n'), want);
    const lock = Object.fromEntries(mine.manifest.source.lock.map((l) => [l.path, l]));
    assert.deepEqual(Object.keys(lock).sort(), ['node_modules/app-n', 'node_modules/native-linux',
      'node_modules/native-win', 'node_modules/win-helper']);
    assert.equal(lock['node_modules/native-win'].inert, true);
    assert.equal(lock['node_modules/native-win'].optional, true);
    assert.deepEqual(lock['node_modules/native-win'].os, ['win32']);
    assert.deepEqual(lock['node_modules/native-win'].cpu, ['x64']);
    assert.match(lock['node_modules/native-win'].integrity, /^sha512-/);
    assert.equal(lock['node_modules/win-helper'].inert, true);
    assert.deepEqual(lock['node_modules/native-linux'].os, ['linux']);
    assert.equal(lock['node_modules/native-linux'].inert, undefined);
    assert.equal(lock['node_modules/app-n'].optional, undefined);
    // --frozen decides from the lock alone: the linux package, not win32's
    // (the lock has no dependency edges, so a helper only an other-platform
    // package needs is installed anyway: see the README).
    const r = await corral(['install', 'npm:app-n', '--name', 'app-n', '--frozen',
      '--yes', '--json', '--registry', reg.url], { root, timeout: 120000 });
    expectExit(r, 0, 'frozen install');
    const frozen = places(path.join(root, 'servers/app-n/pkg/node_modules'));
    assert.ok(frozen.includes('node_modules/native-linux native-linux@1.0.0'), frozen.join(', '));
    assert.ok(!frozen.some((p) => p.startsWith('node_modules/native-win ')), frozen.join(', '));
  });

  test('engines: nothing suits this node → the highest, a warning, recorded', async () => {
    const mine = await corralTree('toonew', 'toonew');
    assert.deepEqual(mine.tree, ['node_modules/toonew toonew@1.1.0']);
    assert.match(mine.stderr, /warning: toonew@1\.1\.0 wants node >=999/);
    assert.deepEqual(mine.manifest.source.engines_unmet, ['toonew@1.1.0 wants node >=999']);
    assert.deepEqual(await npmTree('toonew'), mine.tree);
  });

  test('engines: a version that suits leaves nothing recorded', async () => {
    const m = JSON.parse(fs.readFileSync(path.join(root, 'servers/app-e/manifest.json')));
    assert.equal(m.source.resolved.version, '1.0.0');
    assert.equal(m.source.engines_unmet, undefined);
  });
});
