// The download cache (include/corral/cache.h): after every install it is
// brought back under its cap (corral.json "cache_max_size") by removing the
// least recently used entries first; `corral cache info` reports it and
// `corral cache clean [--all]` empties it.  Against the npm registry stand-in.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { EX, REPO, cleanupRoot, corral, expectExit, newRoot } from './lib.mjs';

const { startRegistry } = await import(path.join(REPO, 'tests/fixtures/npm-registry/server.mjs'));

describe('download cache: cap, LRU eviction, info and clean', { timeout: 300000 }, () => {
  let root;
  let reg;
  const tgz = {};
  const env = { CORRAL_NPM_METADATA_MAX_AGE: '0' };

  before(async () => {
    reg = await startRegistry();
    // ~100 KiB of random bytes each: tarball and unpacked tree ~200 KiB a package.
    for (const n of ['pkg-a', 'pkg-b', 'pkg-c']) {
      const files = { 'bin/s.js': 'process.stdin.resume();\n',
        'blob.bin': randomBytes(100 * 1024) };
      reg.publish(n, '1.0.0', { files, meta: { bin: { [n]: 'bin/s.js' } } });
    }
    root = newRoot('cache');
    fs.mkdirSync(path.join(root, 'etc'), { recursive: true });
    // Room for two packages, not three.
    fs.writeFileSync(path.join(root, 'etc', 'corral.json'), '{"cache_max_size": "500K"}\n');
  });

  after(async () => {
    cleanupRoot(root);
    await reg?.close?.();
  });

  const install = (pkg, name) => corral(['install', `npm:${pkg}`, '--name', name, '--yes',
    '--registry', reg.url], { root, env, timeout: 120000 });
  const info = async () => {
    const r = await corral(['cache', 'info', '--json'], { root });
    expectExit(r, 0, 'cache info');
    return JSON.parse(r.stdout);
  };
  /* Which packages have a cached tarball, by the lock of server `name`. */
  const keyOf = (name) => {
    const m = JSON.parse(fs.readFileSync(path.join(root, 'servers', name, 'manifest.json')));
    const l = m.source.lock[0];
    return `sha512-${Buffer.from(l.integrity.replace(/^sha512-/, ''), 'base64').toString('hex')}`;
  };
  const cached = (key) => ({
    tarball: fs.existsSync(path.join(root, 'cache/npm/tarballs', `${key}.tgz`)),
    unpacked: fs.existsSync(path.join(root, 'cache/npm/unpacked', key)),
  });

  test('installs past the cap evict the least recently used package', async () => {
    expectExit(await install('pkg-a', 'a'), 0, 'install a');
    expectExit(await install('pkg-b', 'b'), 0, 'install b');
    const [ka, kb] = [keyOf('a'), keyOf('b')];
    assert.deepEqual(cached(ka), { tarball: true, unpacked: true });
    assert.deepEqual(cached(kb), { tarball: true, unpacked: true });
    // pkg-a used again (from the cache): now b is the least recently used.
    expectExit(await install('pkg-a', 'a2'), 0, 'install a again');
    assert.equal(reg.counts.tarball, 2, 'the second install of pkg-a downloads nothing');
    expectExit(await install('pkg-c', 'c'), 0, 'install c');
    const kc = keyOf('c');

    assert.deepEqual(cached(kb), { tarball: false, unpacked: false }, 'b was evicted');
    assert.deepEqual(cached(ka), { tarball: true, unpacked: true }, 'a was used recently');
    assert.deepEqual(cached(kc), { tarball: true, unpacked: true }, 'c is the newest');
    const i = await info();
    assert.equal(i.max_size, 500 * 1024);
    assert.ok(i.bytes <= i.max_size, `cache ${i.bytes} bytes over its cap ${i.max_size}`);
    assert.equal(i.tarballs, 2);
    assert.equal(i.location, path.join(root, 'cache'));

    // Evicted entries are only the cache's copy: b still runs as installed.
    assert.ok(fs.existsSync(path.join(root, 'servers/b/pkg/node_modules/pkg-b/blob.bin')));
    // And b installs again, downloading its tarball once more.
    const before = reg.counts.tarball;
    expectExit(await install('pkg-b', 'b2'), 0, 'install b again');
    assert.equal(reg.counts.tarball, before + 1);
  });

  test('cache info as text, clean keeps what installed servers use, --all empties it', async () => {
    const t = await corral(['cache', 'info'], { root });
    expectExit(t, 0, 'cache info');
    assert.match(t.stdout, /^location: +\S+\/cache$/m);
    assert.match(t.stdout, /^cap: +0\.5 MiB \(512000 bytes\)$/m);
    assert.match(t.stdout, /^entries: +\d+ \(\d+ tarballs, /m);

    // A leftover of an interrupted download, and a server whose package goes.
    const junk = path.join(root, 'cache/npm/tarballs/sha512-00.tgz.tmp.AbCdEf');
    fs.writeFileSync(junk, 'partial');
    const [kb, kc] = [keyOf('b2'), keyOf('c')];
    assert.deepEqual(cached(kc), { tarball: true, unpacked: true }, 'c is cached before');
    expectExit(await corral(['uninstall', 'c', '--yes'], { root }), 0, 'uninstall c');
    const before = await info();
    assert.equal(before.leftovers, 1);
    assert.ok(before.packuments > 0);
    const r = await corral(['cache', 'clean', '--json'], { root });
    expectExit(r, 0, 'cache clean');
    const removed = JSON.parse(r.stdout);
    assert.equal(removed.leftovers, 1);
    assert.ok(!fs.existsSync(junk), 'the leftover is gone');
    const after1 = await info();
    assert.equal(after1.packuments, 0, 'clean removes metadata');
    assert.deepEqual(cached(kc), { tarball: false, unpacked: false }, 'no server uses c: gone');
    assert.deepEqual(cached(kb), { tarball: true, unpacked: true }, 'b2 uses pkg-b: kept');

    const all = await corral(['cache', 'clean', '--all'], { root });
    expectExit(all, 0, 'cache clean --all');
    assert.match(all.stdout, /^removed \d+ entries/);
    const empty = await info();
    assert.equal(empty.entries, 0);
    assert.equal(empty.bytes, 0);

    // Usage errors are one line, exit 64.
    const bad = await corral(['cache', 'frob'], { root });
    assert.equal(bad.code, EX.USAGE);
    const bad2 = await corral(['cache', 'info', '--all'], { root });
    assert.equal(bad2.code, EX.USAGE);
  });

  test('a bad cache_max_size is a configuration error', async () => {
    const r = await corral(['cache', 'info'], { root, env: { CORRAL_CACHE_MAX_SIZE: 'lots' } });
    assert.equal(r.code, EX.CONFIG, r.stderr);
    assert.match(r.stderr, /^corral: cache: CORRAL_CACHE_MAX_SIZE: 'lots' is not a size/);
  });
});
