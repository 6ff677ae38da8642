// A full disk: on a 2 MiB tmpfs, installing a server bigger than that fails
// with exit 73 (can't create) and a one-line error naming ENOSPC; the store
// is left as it was (no half-installed server, no staging leftovers) and the
// next small install succeeds.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import {
  EX, FIXTURES, cleanupRoot, corral, expectExit, expectOneLineError, expectSameTree, newRoot,
  storeSnapshot,
} from './lib.mjs';

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
