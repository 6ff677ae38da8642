// A full disk: on a 2 MiB tmpfs, installing a server bigger than that fails
// with exit 73 (can't create) and a one-line error naming ENOSPC; the store
// is left as it was (no half-installed server, no staging leftovers) and the
// next small install succeeds.  The same from the npm registry stand-in: the
// download cache keeps nothing of the failed install (include/corral/cache.h:
// on a full disk an install takes back what it added), so space comes back.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';

import {
  EX, FIXTURES, REPO, cleanupRoot, corral, expectExit, expectOneLineError, expectSameTree,
  newRoot, storeSnapshot, treeSnapshot,
} from './lib.mjs';

const { startRegistry } = await import(path.join(REPO, 'tests/fixtures/npm-registry/server.mjs'));

describe('disk full', { timeout: 300000 }, () => {
  let root;
  let mounted = false;

  before(() => {
    root = newRoot('diskfull');
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', root]);
    mounted = true;
  });

  after(() => {
    if (mounted) execFileSync('umount', ['-l', root]);
    cleanupRoot(root);
  });

  test('a local install that fills the disk exits 73 and leaves the store as it was', async () => {
    // First a working store with one small server in it.
    const small = newRoot('diskfull-src');
    fs.writeFileSync(path.join(small, 'x.js'), 'process.stdin.resume();\n');
    expectExit(await corral(['install', small, '--name', 'small', '--yes', '--', 'node', 'x.js'],
      { root }), 0, 'the first small install');
    const before = storeSnapshot(root);

    const big = path.join(FIXTURES, 'memory'); // node_modules of several MiB
    const r = await corral(['install', big, '--name', 'big', '--yes'], { root, timeout: 120000 });
    assert.equal(r.code, EX.CANTCREAT, `expected exit 73, got ${r.code}\n${r.stderr}`);
    expectOneLineError(r, ['No space left on device'], 'install on a full disk');

    expectSameTree(before, storeSnapshot(root), 'the store after a disk-full install');
    assert.deepEqual(fs.readdirSync(path.join(root, 'staging')), [], 'staging leftovers');
    const list = await corral(['list', '--json'], { root });
    expectExit(list, 0, 'list after a disk-full install');
    assert.deepEqual(JSON.parse(list.stdout).map((s) => s.name), ['small']);

    // Space came back with the failed install's files: the next one works.
    expectExit(await corral(['install', small, '--name', 'small2', '--yes', '--', 'node', 'x.js'],
      { root }), 0, 'the next small install');
    cleanupRoot(small);
  });
});

describe('disk full: npm install and the download cache', { timeout: 300000 }, () => {
  let root;
  let reg;
  let mounted = false;
  const env = { CORRAL_NPM_METADATA_MAX_AGE: '0' };

  before(async () => {
    reg = await startRegistry();
    // Random bytes do not compress: each package costs its size twice (the
    // tarball and its unpacked tree), so "huge" cannot fit in 4 MiB.
    for (const n of ['big-a', 'big-b', 'big-c', 'big-d']) {
      reg.publish(n, '1.0.0', { files: { 'blob.bin': randomBytes(700 * 1024) } });
    }
    reg.publish('huge', '1.0.0', {
      files: { 'bin/huge.js': 'process.stdin.resume();\n' },
      meta: { bin: { huge: 'bin/huge.js' },
        dependencies: { 'big-a': '1', 'big-b': '1', 'big-c': '1', 'big-d': '1' } },
    });
    reg.publish('tiny', '1.0.0', {
      files: { 'bin/tiny.js': 'process.stdin.resume();\n' }, meta: { bin: { tiny: 'bin/tiny.js' } },
    });
    root = newRoot('diskfull-npm');
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', root]);
    mounted = true;
  });

  after(async () => {
    if (mounted) execFileSync('umount', ['-l', root]);
    cleanupRoot(root);
    await reg?.close?.();
  });

  const install = (spec, name) => corral(['install', `npm:${spec}`, '--name', name, '--yes',
    '--registry', reg.url], { root, env, timeout: 120000 });
  const cacheInfo = async () => {
    const r = await corral(['cache', 'info', '--json'], { root });
    expectExit(r, 0, 'cache info');
    return JSON.parse(r.stdout);
  };

  test('a failed npm install on a full disk leaves store and cache as they were', async () => {
    expectExit(await install('tiny', 'first'), 0, 'the first small install');
    const store = storeSnapshot(root);
    const cache = treeSnapshot(path.join(root, 'cache'));

    const r = await install('huge', 'huge');
    assert.equal(r.code, EX.CANTCREAT, `expected exit 73, got ${r.code}\n${r.stderr}`);
    expectOneLineError(r, ['No space left on device'], 'npm install on a full disk');

    expectSameTree(store, storeSnapshot(root), 'the store after a disk-full npm install');
    assert.deepEqual(fs.readdirSync(path.join(root, 'staging')), [], 'staging leftovers');
    expectSameTree(cache, treeSnapshot(path.join(root, 'cache')),
      'the download cache after a disk-full npm install');
    const info = await cacheInfo();
    assert.equal(info.leftovers, 0, 'cache leftovers');
    assert.equal(info.tarballs, 1, 'only tiny\'s tarball is cached');

    // The space came back: the next small install works.
    expectExit(await install('tiny', 'second'), 0, 'the next small install');
    const list = await corral(['list', '--json'], { root });
    assert.deepEqual(JSON.parse(list.stdout).map((s) => s.name).sort(), ['first', 'second']);
  });
});
