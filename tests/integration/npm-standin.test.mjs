// The npm resolver against a registry stand-in on 127.0.0.1
// (tests/fixtures/npm-registry/server.mjs): bad input of every kind fails with
// one clear line and leaves nothing in the store; the cache, --offline,
// --frozen, tokens and install-script reporting work.
//
// The tests share one store for its download cache, but each starts with
// no server installed (afterEach removes what a test left, passing or not),
// so one failure stays one failure.  A test that needs a warm cache warms
// it itself (warm()), which costs no download when it already is.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';

import {
  EX, REPO, SLOW, cleanupRoot, corral, expectExit, expectOneLineError, newRoot, run,
} from './lib.mjs';

const { startRegistry, makeTgz, packageTgz } = await import(
  path.join(REPO, 'tests/fixtures/npm-registry/server.mjs'));

const SERVER_JS = '#!/usr/bin/env node\nconsole.log("hi");\n';

/* A port nothing listens on. */
async function closedPort() {
  const srv = net.createServer();
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address();
  await new Promise((r) => srv.close(r));
  return port;
}

function storeEntries(root) {
  const list = (d) => (fs.existsSync(d) ? fs.readdirSync(d).filter((e) => e !== '.lock') : []);
  return { servers: list(path.join(root, 'servers')), staging: list(path.join(root, 'staging')) };
}

/* Cached tarballs whose content does not match their name (must be none). */
function badCacheEntries(root) {
  const d = path.join(root, 'cache', 'npm', 'tarballs');
  const files = fs.existsSync(d) ? fs.readdirSync(d).filter((f) => f.endsWith('.tgz')) : [];
  return files.filter((f) => f !== `sha512-${createHash('sha512')
    .update(fs.readFileSync(path.join(d, f))).digest('hex')}.tgz`);
}

/* Every name under dir with its type, size, exec bit, symlink target and
 * content hash, sorted: two installs of the same tree give equal lists. */
function treeOf(dir) {
  const out = [];
  const walk = (rel) => {
    for (const e of fs.readdirSync(path.join(dir, rel)).sort()) {
      const r = rel ? `${rel}/${e}` : e;
      const p = path.join(dir, r);
      const st = fs.lstatSync(p);
      if (st.isDirectory()) { out.push(`${r}/`); walk(r); }
      else if (st.isSymbolicLink()) out.push(`${r} -> ${fs.readlinkSync(p)}`);
      else out.push(`${r} ${st.size} ${st.mode & 0o111 ? 'x' : '-'} ${createHash('sha256').update(fs.readFileSync(p)).digest('hex')}`);
    }
  };
  walk('');
  return out;
}

/* The unpacked cache entry of an installed package (from the server's lock). */
function unpackedEntry(root, server, pkgPath) {
  const m = JSON.parse(fs.readFileSync(path.join(root, 'servers', server, 'manifest.json')));
  const l = m.source.lock.find((e) => e.path === pkgPath);
  const hex = Buffer.from(l.integrity.replace(/^sha512-/, ''), 'base64').toString('hex');
  return path.join(root, 'cache', 'npm', 'unpacked', `sha512-${hex}`);
}

describe('npm: registry stand-in', { timeout: 240000 * SLOW }, () => {
  let reg;
  let root;
  let work;
  let modesLibTgz;

  before(async () => {
    // The stand-in's packages change between tests: always revalidate
    // (npm's --prefer-online), except where the freshness window is tested.
    process.env.CORRAL_NPM_METADATA_MAX_AGE = '0';
    reg = await startRegistry();
    root = newRoot('npmreg');
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-npmtar-'));

    // A good server with a dependency tree that needs nesting:
    // app → lib@^1, other → lib@^2 (lib 2 nests under other), and a peer.
    reg.publish('lib', '1.0.0', { files: { 'index.js': 'module.exports = 1;\n' } });
    reg.publish('lib', '1.5.0', { files: { 'index.js': 'module.exports = 1;\n' } });
    reg.publish('lib', '2.0.0', { files: { 'index.js': 'module.exports = 2;\n' } });
    reg.publish('other', '1.0.0', { meta: { dependencies: { lib: '^2.0.0' } } });
    reg.publish('scripted', '1.0.0', { meta: { scripts: { postinstall: 'echo pwned > /tmp/pwned' } } });
    reg.publish('winonly', '1.0.0', { meta: { os: ['win32'] } });
    reg.publish('app', '1.0.0', {
      files: { 'bin/app.js': SERVER_JS },
      meta: {
        bin: { app: 'bin/app.js' },
        dependencies: { lib: '^1.0.0', other: '1.x', scripted: '*' },
        optionalDependencies: { winonly: '^1.0.0', missingopt: '^1.0.0' },
      },
    });
    reg.publish('app', '2.0.0-beta.1', { tag: 'next', files: { 'bin/app.js': SERVER_JS },
      meta: { bin: 'bin/app.js' } });

    // Bad tarballs.
    const pj = (n) => ({ name: 'package/package.json', data: JSON.stringify({ name: n, version: '1.0.0' }) });
    const bad = {
      'bad-traversal': makeTgz([pj('bad-traversal'), { name: 'package/../../evil.js', data: 'x' }]),
      'bad-abs-symlink': makeTgz([pj('bad-abs-symlink'), { name: 'package/passwd', type: '2', linkname: '/etc/passwd' }]),
      'bad-rel-symlink': makeTgz([pj('bad-rel-symlink'), { name: 'package/up', type: '2', linkname: '../../../etc' }]),
      'bad-hardlink': makeTgz([pj('bad-hardlink'), { name: 'package/hl', type: '1', linkname: '../../etc/passwd' }]),
      'bad-device': makeTgz([pj('bad-device'), { name: 'package/null', type: '3' }]),
      'bad-fifo': makeTgz([pj('bad-fifo'), { name: 'package/fifo', type: '6' }]),
      'bad-manyfiles': makeTgz([
        { name: 'package/package.json', data: '{"name":"bad-manyfiles","version":"1.0.0","bin":"x.js"}' },
        { name: 'package/x.js', data: SERVER_JS },
        ...Array.from({ length: 100000 }, (_, i) => ({ name: `package/f/${i}`, data: '' }))]),
    };
    // A real 1 GiB sparse file, archived by GNU tar in its sparse format.
    const sp = path.join(work, 'sparse');
    fs.mkdirSync(path.join(sp, 'package'), { recursive: true });
    fs.writeFileSync(path.join(sp, 'package/package.json'), '{"name":"bad-sparse","version":"1.0.0"}');
    const fd = fs.openSync(path.join(sp, 'package/big.bin'), 'w');
    fs.ftruncateSync(fd, 1024 ** 3);
    fs.closeSync(fd);
    expectExit(await run('tar', ['--sparse', '-czf', path.join(work, 'sparse.tgz'), '-C', sp, 'package']), 0, 'tar');
    bad['bad-sparse'] = fs.readFileSync(path.join(work, 'sparse.tgz'));
    for (const [n, tgz] of Object.entries(bad)) {
      reg.publish(n, '1.0.0', { tgz, meta: { bin: 'x.js' } });
    }
    reg.publish('bad-integrity', '1.0.0', {
      tgz: packageTgz('bad-integrity', '1.0.0'),
      dist: { integrity: `sha512-${Buffer.alloc(64, 7).toString('base64')}` },
    });
    reg.publish('bad-truncated', '1.0.0', { truncate: true,
      tgz: packageTgz('bad-truncated', '1.0.0', { files: { 'big.js': 'x'.repeat(200000) } }) });
    // setuid, setgid and sticky bits on files and a folder: extraction keeps
    // only the exec bits (0755/0644).  modes-lib has no bin, so its install
    // fails after extraction, before the store would normalise anything.
    const modeEntries = (name, pkg) => [
      { name: 'package/package.json', data: JSON.stringify({ name, version: '1.0.0', ...pkg }) },
      { name: 'package/server.js', data: SERVER_JS, mode: 0o755 },
      { name: 'package/suid.js', data: SERVER_JS, mode: 0o4755 },
      { name: 'package/sgid.js', data: SERVER_JS, mode: 0o2755 },
      { name: 'package/sticky.txt', data: 'x', mode: 0o1644 },
      { name: 'package/all', type: '5', mode: 0o7777 },
      { name: 'package/all/both', data: 'y', mode: 0o6777 },
    ];
    reg.publish('modes', '1.0.0', { meta: { bin: 'server.js' }, tgz: makeTgz(modeEntries('modes', { bin: 'server.js' })) });
    modesLibTgz = reg.publish('modes-lib', '1.0.0', { tgz: makeTgz(modeEntries('modes-lib', {})) });
    // A dependency whose tarball is bad fails the whole install.
    reg.publish('bad-deep', '1.0.0', { meta: { bin: 'x.js', dependencies: { 'bad-integrity': '1' } } });
  });

  after(async () => {
    delete process.env.CORRAL_NPM_METADATA_MAX_AGE;
    await reg?.close();
    cleanupRoot(root);
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  const install = (spec, extra = [], opts = {}) => corral(['install', spec, '--yes',
    '--registry', opts.registry ?? reg.url, ...extra], { root, timeout: 120000, env: opts.env });

  function expectClean(what) {
    assert.deepEqual(storeEntries(root), { servers: [], staging: [] }, `${what}: store not clean`);
  }

  /* Fills the cache with app's tree (no server is left installed). */
  async function warm() {
    expectExit(await install('npm:app', ['--name', 'warm']), 0, 'warm the cache');
    expectExit(await corral(['uninstall', 'warm'], { root }), 0, 'uninstall warm');
  }

  afterEach(async () => {
    reg.options.etag = true;
    reg.options.lastModified = true;
    reg.options.packumentDelayMs = 0;
    const left = storeEntries(root);
    for (const n of left.servers) await corral(['uninstall', n], { root });
    for (const d of ['servers', 'staging']) {
      for (const e of storeEntries(root)[d]) {
        fs.rmSync(path.join(root, d, e), { recursive: true, force: true });
      }
    }
  });

  test('installs a tree: nesting on conflict, bins, optional skipped, scripts listed', async () => {
    const r = await install('npm:app', ['--json']);
    expectExit(r, 0, 'install app');
    const m = JSON.parse(r.stdout);
    const pkg = path.join(root, 'servers/app/pkg');
    const ver = (p) => JSON.parse(fs.readFileSync(path.join(pkg, p, 'package.json'))).version;
    assert.equal(ver('node_modules/app'), '1.0.0');
    assert.equal(ver('node_modules/lib'), '1.5.0');
    assert.equal(ver('node_modules/other/node_modules/lib'), '2.0.0');
    assert.ok(!fs.existsSync(path.join(pkg, 'node_modules/winonly')), 'os-mismatched optional installed');
    assert.deepEqual(m.runtime.command, ['node', 'node_modules/app/bin/app.js']);
    assert.equal(fs.readlinkSync(path.join(pkg, 'node_modules/.bin/app')), '../app/bin/app.js');
    assert.equal(fs.statSync(path.join(pkg, 'node_modules/app/bin/app.js')).mode & 0o111, 0o111);
    assert.deepEqual(m.source.scripts_skipped, ['scripted@1.0.0']);
    assert.ok(!fs.existsSync('/tmp/pwned') || fs.statSync('/tmp/pwned').mtimeMs < Date.now() - 60000);
    // The os-mismatched optional package is in the lock for other hosts,
    // marked inert (not installed here).
    assert.equal(m.source.lock.length, 6);
    assert.deepEqual(m.source.lock.filter((l) => l.inert).map((l) => `${l.name} ${l.os}`),
      ['winonly win32']);
    for (const l of m.source.lock) assert.match(l.integrity, /^sha512-/);
    const run1 = await run('node', [path.join(pkg, m.runtime.command[1])]);
    assert.equal(run1.stdout, 'hi\n');
  });

  test('a second install downloads no tarball; metadata revalidates with ETag', async () => {
    await warm();
    reg.resetCounts();
    const r = await install('npm:app', ['--name', 'app2']);
    expectExit(r, 0, 'second install');
    assert.equal(reg.counts.tarball, 0, 'tarballs downloaded again');
    assert.ok(reg.counts.notModified > 0, 'no 304 revalidation');
    assert.ok(reg.requests.every((q) => q.headers.accept?.includes('application/vnd.npm.install-v1+json')),
      'packuments not requested abbreviated');
  });

  test('a second install links from the unpacked cache; damaged entries are re-extracted', async () => {
    const pkg = (n) => path.join(root, 'servers', n, 'pkg', 'node_modules');
    try {
      expectExit(await install('npm:app'), 0, 'install app');
      reg.resetCounts();
      expectExit(await install('npm:app', ['--name', 'link1']), 0, 'linked install');
      assert.equal(reg.counts.tarball, 0, 'tarballs downloaded again');
      assert.deepEqual(treeOf(pkg('link1')), treeOf(pkg('app')), 'linked tree differs from the first');
      const f = path.join(pkg('link1'), 'lib/index.js');
      assert.ok(fs.statSync(f).nlink > 1, 'not hard-linked from the cache');
      const entry = unpackedEntry(root, 'link1', 'node_modules/lib');
      assert.equal(fs.statSync(path.join(entry, 'index.js')).ino, fs.statSync(f).ino);
      assert.ok(fs.existsSync(`${entry}.json`), 'no sidecar');
      const sidecar = JSON.parse(fs.readFileSync(`${entry}.json`));
      assert.ok(sidecar.entries >= 2 && sidecar.bytes > 0, JSON.stringify(sidecar));
      // Cached files are 0644/0755 like pkg/ (writable by their owner, root,
      // only), and the bin's exec bits were set in the cache, so no install
      // chmods a shared inode.
      const appEntry = unpackedEntry(root, 'link1', 'node_modules/app');
      assert.equal(fs.statSync(path.join(appEntry, 'package.json')).mode & 0o7777, 0o644);
      assert.equal(fs.statSync(path.join(appEntry, 'bin/app.js')).mode & 0o111, 0o111);

      // The caps apply to a cached package as to a tarball.
      const capped = await install('npm:app', ['--name', 'capped'], { env: { CORRAL_NPM_MAX_ENTRIES: '1' } });
      expectExit(capped, EX.DATAERR, 'entry cap on a cached package');
      expectOneLineError(capped, ['more than 1 entries']);
      const capped2 = await install('npm:app', ['--name', 'capped'], { env: { CORRAL_NPM_MAX_UNPACKED: '10' } });
      expectExit(capped2, EX.DATAERR, 'size cap on a cached package');
      expectOneLineError(capped2, ['more than 10 bytes']);
      assert.ok(!fs.existsSync(path.join(root, 'servers', 'capped')), 'capped install kept');

      // Damage the entry four ways; each install re-extracts it from the
      // verified tarball (no download) and installs the right files.
      const damage = [
        ['sidecar removed', () => fs.rmSync(`${entry}.json`)],
        ['file removed (partial entry)', () => fs.rmSync(path.join(entry, 'index.js'))],
        ['file added', () => fs.writeFileSync(path.join(entry, 'evil.js'), 'pwned\n')],
        ['file replaced by a bigger one', () => {
          fs.rmSync(path.join(entry, 'index.js'));
          fs.writeFileSync(path.join(entry, 'index.js'), 'module.exports = "evil";\n');
        }],
        ['sidecar garbled', () => fs.writeFileSync(`${entry}.json`, '{"entries":')],
        ['entry removed, sidecar kept', () => fs.rmSync(entry, { recursive: true })],
      ];
      let i = 0;
      for (const [what, fn] of damage) {
        fn();
        reg.resetCounts();
        const name = `relink${i++}`;
        const r = await install('npm:app', ['--name', name]);
        expectExit(r, 0, what);
        assert.equal(reg.counts.tarball, 0, `${what}: tarball downloaded`);
        assert.deepEqual(treeOf(pkg(name)), treeOf(pkg('app')), `${what}: installed tree differs`);
        assert.ok(fs.existsSync(`${entry}.json`), `${what}: entry not cached again`);
        assert.ok(!fs.existsSync(path.join(entry, 'evil.js')), `${what}: stray file kept`);
        assert.ok(fs.statSync(path.join(pkg(name), 'lib/index.js')).nlink > 1, `${what}: not linked`);
        expectExit(await corral(['uninstall', name], { root }), 0);
      }
    } finally {
      await corral(['uninstall', 'link1'], { root });
    }
  });

  test('within CORRAL_NPM_METADATA_MAX_AGE cached metadata is used without asking', async () => {
    await warm();
    reg.resetCounts();
    try {
      const r = await install('npm:app', ['--name', 'app4'],
        { env: { CORRAL_NPM_METADATA_MAX_AGE: '300' } });
      expectExit(r, 0, 'install within the window');
      // Only the missing optional dependency (a 404, never cached) is asked for.
      assert.deepEqual(reg.requests.map((q) => q.url).filter((u) => !u.includes('missingopt')), [],
        'fresh metadata was requested again');
      const bad = await install('npm:app', ['--name', 'x'], { env: { CORRAL_NPM_METADATA_MAX_AGE: 'soon' } });
      expectExit(bad, EX.CONFIG, 'bad max age');
      expectOneLineError(bad, ['CORRAL_NPM_METADATA_MAX_AGE']);
    } finally {
      await corral(['uninstall', 'app4'], { root });
    }
  });

  test('--offline installs from the cache without the registry', async () => {
    await warm();
    reg.resetCounts();
    try {
      const r = await install('npm:app', ['--name', 'app3', '--offline']);
      expectExit(r, 0, 'offline install');
      assert.equal(reg.requests.length, 0, '--offline made requests');
      // Not cached: a clear error.
      const r2 = await install('npm:bad-device', ['--name', 'o4', '--offline']);
      expectExit(r2, EX.UNAVAILABLE, 'offline miss');
      expectOneLineError(r2, ['--offline', 'not in the cache']);
    } finally {
      for (const n of ['app2', 'app3']) await corral(['uninstall', n], { root });
    }
  });

  test('setuid, setgid and sticky bits are stripped at extraction', async () => {
    const want = { 'suid.js': 0o755, 'sgid.js': 0o755, 'sticky.txt': 0o644, all: 0o755, 'all/both': 0o755 };
    const check = (where, dir) => {
      for (const [f, mode] of Object.entries(want)) {
        const got = fs.statSync(path.join(dir, f)).mode & 0o7777;
        assert.equal(got.toString(8), mode.toString(8), `${where}: ${f} has mode ${got.toString(8)}`);
      }
    };
    // As extracted: the install stops after extraction (a library is not a
    // server), so the unpacked cache entry holds extraction's own modes.
    const lib = await install('npm:modes-lib');
    expectExit(lib, EX.USAGE, 'install modes-lib');
    expectOneLineError(lib, ['no "bin"']);
    const hex = createHash('sha512').update(modesLibTgz).digest('hex');
    check('extracted into the cache', path.join(root, 'cache', 'npm', 'unpacked', `sha512-${hex}`));
    // As installed, and the cache entry it is linked from.
    expectExit(await install('npm:modes'), 0, 'install modes');
    check('installed', path.join(root, 'servers/modes/pkg/node_modules/modes'));
    check('cached', unpackedEntry(root, 'modes', 'node_modules/modes'));
  });

  test('pkg/ holds 0644/0755 files and 0755 folders: a tampered cache, umask 077', async () => {
    // The store trusts the npm resolver's modes and skips its own pass over
    // pkg/ (store.h pkg_modes_checked): a cached file whose mode changed
    // must make its entry damaged, and an umask that would narrow mkdir's
    // 0755 must bring the store's pass back.
    const bad = [];
    const walk = (dir) => {
      for (const e of fs.readdirSync(dir)) {
        const p = path.join(dir, e);
        const st = fs.lstatSync(p);
        const m = st.mode & 0o7777;
        if (st.isDirectory()) {
          if (m !== 0o755) bad.push(`${p} ${m.toString(8)}`);
          walk(p);
        } else if (st.isFile() && m !== 0o644 && m !== 0o755) {
          bad.push(`${p} ${m.toString(8)}`);
        }
      }
    };
    const pkgOf = (n) => path.join(root, 'servers', n, 'pkg');
    try {
      expectExit(await install('npm:app', ['--name', 'modes1']), 0, 'install app');
      const entry = unpackedEntry(root, 'modes1', 'node_modules/app');
      fs.chmodSync(path.join(entry, 'package.json'), 0o666);
      fs.chmodSync(path.join(entry, 'bin/app.js'), 0o4755);
      const r = await install('npm:app', ['--name', 'modes2']);
      expectExit(r, 0, 'install from the tampered cache');
      walk(pkgOf('modes2'));
      assert.deepEqual(bad, [], 'modes after a tampered cache entry');
      assert.match(r.stderr, /unpacked cache of app@1\.0\.0 is damaged/);
      const old = process.umask(0o077);
      let r3;
      try {
        r3 = await install('npm:app', ['--name', 'modes3']);
      } finally {
        process.umask(old);
      }
      expectExit(r3, 0, 'install under umask 077');
      walk(pkgOf('modes3'));
      assert.deepEqual(bad, [], 'modes under umask 077');
    } finally {
      for (const n of ['modes1', 'modes2', 'modes3']) await corral(['uninstall', n], { root });
    }
  });

  test('stale metadata is revalidated with If-None-Match and If-Modified-Since', async () => {
    await warm();
    const packuments = () => reg.requests.filter((q) => !q.url.endsWith('.tgz') && !q.url.includes('missingopt'));
    const httpDate = /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/;
    reg.resetCounts();
    expectExit(await install('npm:app', ['--name', 'cond1']), 0, 'install with ETag and Last-Modified');
    assert.ok(packuments().length >= 4, `too few packument requests: ${packuments().map((q) => q.url)}`);
    for (const q of packuments()) {
      assert.match(q.headers['if-none-match'] ?? '', /^"[0-9a-f]{40}"$/, `${q.url}: no If-None-Match`);
      assert.match(q.headers['if-modified-since'] ?? '', httpDate, `${q.url}: no If-Modified-Since`);
    }
    assert.equal(reg.counts.notModified, packuments().length, 'not every revalidation was a 304');

    // A registry that sends no ETag: Last-Modified alone revalidates.
    reg.options.etag = false;
    expectExit(await install('npm:app', ['--name', 'cond2']), 0, 'install that drops the ETag');
    reg.resetCounts();
    expectExit(await install('npm:app', ['--name', 'cond3']), 0, 'install with Last-Modified only');
    assert.ok(packuments().length >= 4);
    for (const q of packuments()) {
      assert.equal(q.headers['if-none-match'], undefined, `${q.url}: If-None-Match without an ETag`);
      assert.match(q.headers['if-modified-since'] ?? '', httpDate, `${q.url}: no If-Modified-Since`);
    }
    assert.equal(reg.counts.notModified, packuments().length, 'If-Modified-Since did not get 304s');
  });

  test('npm_metadata_max_age in corral.json sets the freshness window', async () => {
    await warm();
    const cfg = path.join(root, 'etc', 'corral.json');
    fs.mkdirSync(path.dirname(cfg), { recursive: true });
    const asked = () => reg.requests.filter((q) => !q.url.includes('missingopt'));
    // Without the environment variable the file decides.
    const noEnv = { env: { CORRAL_NPM_METADATA_MAX_AGE: undefined } };
    try {
      fs.writeFileSync(cfg, JSON.stringify({ npm_metadata_max_age: 3600 }));
      reg.resetCounts();
      expectExit(await install('npm:app', ['--name', 'age1'], noEnv), 0, 'max age 3600');
      assert.deepEqual(asked().map((q) => q.url), [], 'metadata within the window was requested');

      fs.writeFileSync(cfg, JSON.stringify({ npm_metadata_max_age: 0 }));
      reg.resetCounts();
      expectExit(await install('npm:app', ['--name', 'age2'], noEnv), 0, 'max age 0');
      assert.ok(asked().length >= 5, `0 did not revalidate: ${asked().map((q) => q.url)}`);

      fs.writeFileSync(cfg, JSON.stringify({ npm_metadata_max_age: -1 }));
      const bad = await install('npm:app', ['--name', 'age3'], noEnv);
      expectExit(bad, EX.CONFIG, 'a negative max age');
      expectOneLineError(bad, ['npm_metadata_max_age']);
    } finally {
      fs.rmSync(cfg, { force: true });
    }
  });

  test('packuments are fetched concurrently (more than one request in flight)', async () => {
    await warm();
    // Each packument answer is held 300 ms: requests made one after the
    // other never overlap.  app has five dependencies to look up at once.
    reg.options.packumentDelayMs = 300;
    reg.resetCounts();
    expectExit(await install('npm:app', ['--name', 'par']), 0, 'install app');
    assert.ok(reg.counts.maxInFlight > 1,
      `at most ${reg.counts.maxInFlight} packument request in flight (${reg.counts.packument} in all)`);
  });

  test('--frozen reinstalls exactly the lock, even after a new release', async () => {
    expectExit(await install('npm:app'), 0, 'install app');
    reg.publish('lib', '1.9.0', { files: { 'index.js': 'module.exports = 19;\n' } });
    const r = await install('npm:app', ['--frozen', '--json']);
    expectExit(r, 0, 'frozen');
    const pkg = path.join(root, 'servers/app/pkg');
    assert.equal(JSON.parse(fs.readFileSync(path.join(pkg, 'node_modules/lib/package.json'))).version, '1.5.0');
    const r2 = await install('npm:other', ['--frozen']);
    expectExit(r2, EX.USAGE, 'frozen without install');
    expectOneLineError(r2, ['--frozen', 'not installed']);
    expectExit(await corral(['uninstall', 'app'], { root }), 0);
    expectClean('after uninstall');
  });

  test('dist-tags select versions; unknown ones fail with 66', async () => {
    const r = await install('npm:app@next', ['--name', 'appnext', '--json']);
    expectExit(r, 0, 'app@next');
    assert.equal(JSON.parse(r.stdout).source.resolved.version, '2.0.0-beta.1');
    expectExit(await corral(['uninstall', 'appnext'], { root }), 0);
    for (const spec of ['npm:app@9.9.9', 'npm:app@nosuchtag', 'npm:app@^7']) {
      const r2 = await install(spec, ['--name', 'x']);
      expectExit(r2, EX.NOINPUT, spec);
      expectOneLineError(r2, ['app']);
      expectClean(spec);
    }
  });

  test('unknown package: 404 → 66', async () => {
    const r = await install('npm:no-such-package-here');
    expectExit(r, EX.NOINPUT, 'unknown package');
    expectOneLineError(r, ['unknown package', 'no-such-package-here']);
    expectClean('unknown package');
  });

  test('a packument and a tarball answered 503 are fetched again (twice at most)', async () => {
    reg.publish('flaky', '1.0.0', { meta: { bin: { flaky: 'index.js' } } });
    reg.options.fail = { flaky: 1, 'flaky/-/flaky-1.0.0.tgz': 2 };
    const before = reg.requests.length;
    const ok = await install('npm:flaky');
    expectExit(ok, 0, 'install through 503s');
    const urls = reg.requests.slice(before).map((q) => q.url.split('?')[0]);
    assert.equal(urls.filter((u) => u === '/flaky').length, 2, urls.join(' '));
    assert.equal(urls.filter((u) => u === '/flaky/-/flaky-1.0.0.tgz').length, 3, urls.join(' '));
    expectExit(await corral(['uninstall', 'flaky'], { root }), 0);

    reg.publish('flakier', '1.0.0', { meta: { bin: { flakier: 'index.js' } } });
    reg.options.fail = { flakier: 3 };
    const r = await install('npm:flakier');
    expectExit(r, EX.UNAVAILABLE, 'three 503s');
    expectOneLineError(r, ['flakier', '503']);
    expectClean('three 503s');
    reg.options.fail = {};
  });

  test('registry unreachable → 69', async () => {
    const r = await install('npm:app', ['--name', 'x'],
      { registry: `http://127.0.0.1:${await closedPort()}/` });
    expectExit(r, EX.UNAVAILABLE, 'unreachable');
    expectOneLineError(r, ['cannot reach']);
    expectClean('unreachable');
  });

  // --allow-scripts runs them inside the sandbox: git-npm-scripts.test.mjs.
  test('--allow-scripts runs scripts only inside the sandbox', { skip: process.getuid() !== 0 && 'needs root' }, async () => {
    fs.rmSync('/tmp/pwned', { force: true });
    const r = await install('npm:app', ['--name', 'x', '--allow-scripts']);
    expectExit(r, 0, 'allow-scripts');
    assert.match(r.stderr, /install scripts run in the sandbox: scripted@1\.0\.0/);
    assert.equal(fs.existsSync('/tmp/pwned'), false, "the script's /tmp was the sandbox's own");
    expectExit(await corral(['uninstall', 'x'], { root }), 0);
  });

  const cases = [
    ['bad-integrity', /integrity mismatch/],
    ['bad-deep', /integrity mismatch/],
    ['bad-truncated', /truncated|bad tarball|integrity/],
    ['bad-traversal', /'\.\.'|leaves the package/],
    ['bad-abs-symlink', /absolute/],
    ['bad-rel-symlink', /outside the package/],
    ['bad-hardlink', /hardlink/],
    ['bad-device', /device/],
    ['bad-fifo', /fifo/],
    ['bad-manyfiles', /more than 50000 entries/],
    ['bad-sparse', /more than \d+ bytes/],
  ];
  for (const [name, pattern] of cases) {
    test(`${name} is refused (65) and leaves nothing behind`, async () => {
      const r = await install(`npm:${name}`);
      expectExit(r, EX.DATAERR, name);
      const line = expectOneLineError(r, [pattern]);
      assert.ok(line.includes(name) || name === 'bad-deep', `error does not name the package: ${line}`);
      expectClean(name);
      assert.deepEqual(badCacheEntries(root), [], `${name}: unverified bytes in the cache`);
    });
  }

  test('the caps are configurable (CORRAL_NPM_MAX_ENTRIES, CORRAL_NPM_MAX_UNPACKED)', async () => {
    const r = await install('npm:app', ['--name', 'capped'], { env: { CORRAL_NPM_MAX_ENTRIES: '1' } });
    expectExit(r, EX.DATAERR, 'entry cap');
    expectOneLineError(r, ['more than 1 entries']);
    const r2 = await install('npm:app', ['--name', 'capped'], { env: { CORRAL_NPM_MAX_UNPACKED: '10' } });
    expectExit(r2, EX.DATAERR, 'size cap');
    expectOneLineError(r2, ['more than 10 bytes']);
    expectClean('caps');
  });

  test('tokens from .npmrc go only to their own host', async () => {
    const rc = path.join(work, 'npmrc');
    const host = new URL(reg.url).host;
    fs.writeFileSync(rc, `//${host}/:_authToken=s3cret\n//registry.example.com/:_authToken=other\n`);
    reg.resetCounts();
    const r = await install('npm:lib', ['--name', 'lib', '--', 'x'], { env: { NPM_CONFIG_USERCONFIG: rc } });
    // lib has no bin: a library is not a server.
    expectExit(r, EX.USAGE, 'lib');
    expectOneLineError(r, ['no "bin"']);
    assert.ok(reg.requests.length > 0);
    for (const q of reg.requests) assert.equal(q.headers.authorization, 'Bearer s3cret');
  });

  test('npm_config_registry and corral.json select the registry', async () => {
    const r = await corral(['install', 'npm:app', '--yes', '--name', 'viaenv'],
      { root, timeout: 120000, env: { npm_config_registry: reg.url } });
    expectExit(r, 0, 'npm_config_registry');
    fs.mkdirSync(path.join(root, 'etc'), { recursive: true });
    fs.writeFileSync(path.join(root, 'etc/corral.json'), JSON.stringify({ registry: reg.url }));
    const r2 = await corral(['install', 'npm:app', '--yes', '--name', 'viajson'], { root, timeout: 120000 });
    fs.rmSync(path.join(root, 'etc/corral.json'));
    expectExit(r2, 0, 'corral.json registry');
    for (const n of ['viaenv', 'viajson']) expectExit(await corral(['uninstall', n], { root }), 0);
  });
});
