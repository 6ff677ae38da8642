/* Per-server mounts (issue 18): a directory given to one server read-write
 * with `--mount DIR:rw` is an idmapped bind, so what the server writes
 * belongs to the directory's owner and the directory is never chowned; no
 * other server sees it; install-time checks of host paths; --dry-run;
 * `corral mount`; read-write site defaults in corral.json refused. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import {
  EX, FIXTURES, MOCK_SERVER, cleanupRoot, corral, emptyPkg, expectExit, expectOneLineError, newRoot,
  onTty, startDaemon, waitReady,
} from './lib.mjs';

const FS_BIN = 'node_modules/@modelcontextprotocol/server-filesystem/dist/index.js';
const OWNER = 'corral-it-owner';

/* A regular user for the test (created once, kept: other runs may use it). */
function ownerIds() {
  try {
    execFileSync('id', ['-u', OWNER], { stdio: 'ignore' });
  } catch {
    execFileSync('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', OWNER]);
  }
  const uid = Number(execFileSync('id', ['-u', OWNER], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', OWNER], { encoding: 'utf8' }).trim());
  return { uid, gid };
}

const installFiles = (root, name, dir, extra = []) => corral(['install', path.join(FIXTURES, 'filesystem'),
  '--name', name, '--yes', ...extra, '--', 'node', FS_BIN, dir], { root, timeout: 120000 });

const serverNames = (root) => {
  try { return fs.readdirSync(path.join(root, 'servers')).filter((n) => !n.startsWith('.')); }
  catch { return []; }
};

describe('a directory given to one server read-write', { skip: process.getuid() !== 0 && 'needs root (idmapped mounts)' }, () => {
  let root, dir, other, ids, daemon;

  before(async () => {
    ids = ownerIds();
    root = newRoot('mounts');
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-it-owned-'));
    fs.writeFileSync(path.join(dir, 'hello.txt'), 'hello from the owner\n');
    fs.chownSync(path.join(dir, 'hello.txt'), ids.uid, ids.gid);
    fs.chownSync(dir, ids.uid, ids.gid);
    fs.chmodSync(dir, 0o755);
    other = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-it-other-'));
    fs.chmodSync(other, 0o755);
    const r = await installFiles(root, 'files', dir, ['--mount', `${dir}:rw`]);
    expectExit(r, 0, 'install --mount DIR:rw');
    assert.match(r.stdout, new RegExp(`${dir}:rw`));
    const r2 = await installFiles(root, 'files2', other);
    expectExit(r2, 0, 'install a second server');
    daemon = await startDaemon(root);
    await waitReady(root, ['files', 'files2'], 90000);
  });

  after(async () => {
    if (daemon) await daemon.stop();
    cleanupRoot(root);
    for (const d of [dir, other]) if (d) fs.rmSync(d, { recursive: true, force: true });
  });

  it('writes and reads through the gateway; files belong to the owner, the directory is unchanged', async () => {
    const before = fs.statSync(dir);
    let r = await corral(['call', 'files__write_file', `path=${path.join(dir, 'new.txt')}`,
      'content=written by the server'], { root });
    expectExit(r, 0, 'write_file');
    r = await corral(['call', 'files__create_directory', `path=${path.join(dir, 'sub')}`], { root });
    expectExit(r, 0, 'create_directory');
    r = await corral(['call', 'files__read_text_file', `path=${path.join(dir, 'new.txt')}`], { root });
    expectExit(r, 0, 'read_text_file');
    assert.match(r.stdout, /written by the server/);
    r = await corral(['call', 'files__read_text_file', `path=${path.join(dir, 'hello.txt')}`], { root });
    assert.match(r.stdout, /hello from the owner/);

    for (const f of ['new.txt', 'sub']) {
      const st = fs.statSync(path.join(dir, f));
      assert.equal(st.uid, ids.uid, `${f} belongs to ${OWNER}`);
      assert.equal(st.gid, ids.gid, `${f} has ${OWNER}'s group`);
    }
    const now = fs.statSync(dir);
    assert.equal(now.uid, before.uid);
    assert.equal(now.gid, before.gid);
    assert.equal(now.mode & 0o7777, 0o755);
    assert.equal(now.uid, ids.uid);
  });

  it('a server installed afterwards has no access to the directory', async () => {
    const m = JSON.parse(fs.readFileSync(path.join(root, 'servers', 'files2', 'manifest.json'), 'utf8'));
    assert.deepEqual(m.sandbox.mounts, []);
    const r = await corral(['call', 'files2__list_allowed_directories'], { root });
    expectExit(r, 0, 'list_allowed_directories');
    assert.doesNotMatch(r.stdout, new RegExp(path.basename(dir)));
    const w = await corral(['call', 'files2__write_file', `path=${path.join(dir, 'intruder.txt')}`,
      'content=x'], { root });
    assert.notEqual(w.code, 0, 'files2 must not write there');
    assert.equal(fs.existsSync(path.join(dir, 'intruder.txt')), false);
  });

  it('the confirmation offers a directory argument read-write: "rw" mounts it so, "y" keeps it read-only', async () => {
    // A small package (the mock server, by a relative path): the only host
    // path in the command is DIR.
    const pkg = emptyPkg(root, 'asked');
    fs.copyFileSync(MOCK_SERVER, path.join(pkg, 'server.mjs'));
    const ask = (name, input) => onTty(['install', pkg, '--name', name,
      '--', 'node', 'server.mjs', 'ok', dir], { root, input, timeout: 120000 });
    let r = await ask('asked-rw', 'rw\n');
    expectExit(r, 0, 'install answered rw');
    assert.match(r.stdout, /or rw: install and let it write/);
    let m = JSON.parse(fs.readFileSync(path.join(root, 'servers', 'asked-rw', 'manifest.json'), 'utf8'));
    assert.deepEqual(m.sandbox.mounts, [`${dir}:rw`]);
    r = await ask('asked-y', 'y\n');
    expectExit(r, 0, 'install answered y');
    m = JSON.parse(fs.readFileSync(path.join(root, 'servers', 'asked-y', 'manifest.json'), 'utf8'));
    assert.deepEqual(m.sandbox.mounts, []);
    assert.match(r.stdout, new RegExp(`${dir}:ro \\(from the command`));
    for (const n of ['asked-rw', 'asked-y'])
      expectExit(await corral(['uninstall', n], { root }), 0, `uninstall ${n}`);
  });

  it('corral mount lists, adds and removes', async () => {
    let r = await corral(['mount', 'files', 'list'], { root });
    expectExit(r, 0, 'mount list');
    assert.equal(r.stdout.trim(), `${dir}:rw`);
    r = await corral(['mount', 'files2', 'add', `${other}:/srv/other:ro`], { root });
    expectExit(r, 0, 'mount add');
    assert.equal(r.stdout.trim(), `mounted files2: ${other}:/srv/other:ro`);
    r = await corral(['mount', 'files2', 'list', '--json'], { root });
    assert.deepEqual(JSON.parse(r.stdout), [`${other}:/srv/other:ro`]);
    r = await corral(['mount', 'files2', 'remove', '/srv/other', '--quiet'], { root });
    expectExit(r, 0, 'mount remove');
    assert.equal(r.stdout, '');
    r = await corral(['mount', 'files2', 'list'], { root });
    assert.equal(r.stdout, '');
    r = await corral(['mount', 'files2', 'remove', '/nowhere'], { root });
    expectExit(r, EX.NOINPUT, 'mount remove of an unknown mount');
    r = await corral(['mount', 'files2', 'add', '/nonexistent-corral-dir:rw'], { root });
    expectExit(r, EX.NOINPUT, 'mount add of a missing path');
  });
});

describe('install-time checks of host paths', () => {
  let root;
  before(() => { root = newRoot('mountchk'); });
  after(() => cleanupRoot(root));

  it('a missing --mount path: exit 66, nothing installed', async () => {
    const r = await installFiles(root, 'files', os.tmpdir(), ['--mount', '/nonexistent-corral-dir:rw']);
    expectExit(r, EX.NOINPUT, 'install --mount of a missing path');
    expectOneLineError(r, ['install', '/nonexistent-corral-dir']);
    assert.deepEqual(serverNames(root), []);
  });

  it('a missing directory argument: exit 66, nothing installed', async () => {
    const r = await installFiles(root, 'files', '/tmp/corral-no-such-docs');
    expectExit(r, EX.NOINPUT, 'install with a missing directory argument');
    expectOneLineError(r, ['install', '/tmp/corral-no-such-docs']);
    assert.deepEqual(serverNames(root), []);
  });

  it('--dry-run prints the manifest and installs nothing', async () => {
    const r = await installFiles(root, 'files', os.tmpdir(), ['--dry-run', '--mount', `${os.tmpdir()}:/data:ro`]);
    expectExit(r, 0, 'install --dry-run');
    const m = JSON.parse(r.stdout);
    assert.equal(m.name, 'files');
    assert.deepEqual(m.sandbox.mounts, [`${fs.realpathSync(os.tmpdir())}:/data:ro`]);
    assert.deepEqual(serverNames(root), []);
  });

  it('a read-write default in corral.json is refused', async () => {
    fs.mkdirSync(path.join(root, 'etc'), { recursive: true });
    fs.writeFileSync(path.join(root, 'etc', 'corral.json'),
      JSON.stringify({ sandbox: { mounts: [`${os.tmpdir()}:rw`] } }));
    let r = await installFiles(root, 'files', os.tmpdir());
    expectExit(r, EX.CONFIG, 'install with a read-write site mount');
    assert.match(r.stderr, /read-only/);
    assert.deepEqual(serverNames(root), []);
    fs.writeFileSync(path.join(root, 'etc', 'corral.json'),
      JSON.stringify({ sandbox: { mounts: [`${os.tmpdir()}:ro`] } }));
    r = await installFiles(root, 'files', os.tmpdir(), ['--dry-run']);
    expectExit(r, 0, 'install with a read-only site mount');
    assert.deepEqual(JSON.parse(r.stdout).sandbox.mounts, [`${os.tmpdir()}:ro`]);
    fs.rmSync(path.join(root, 'etc', 'corral.json'));
  });
});

/* ramfs cannot be idmapped (no FS_ALLOW_IDMAP), like the older kernels and
 * network filesystems the fallback is for. */
describe('a read-write directory on a filesystem that cannot idmap', { skip: process.getuid() !== 0 && 'needs root (mount, idmapped mounts)' }, () => {
  let root, dir, ids, daemon;

  before(() => {
    ids = ownerIds();
    root = newRoot('runas');
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-it-ramfs-'));
    execFileSync('mount', ['-t', 'ramfs', 'ramfs', dir]);
    fs.chownSync(dir, ids.uid, ids.gid);
    fs.chmodSync(dir, 0o755);
  });

  after(async () => {
    if (daemon) await daemon.stop();
    cleanupRoot(root);
    if (dir) {
      execFileSync('umount', [dir]);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('install --mount DIR:rw refuses (69), naming --run-as-owner; nothing installed', async () => {
    const r = await installFiles(root, 'files', dir, ['--mount', `${dir}:rw`]);
    expectExit(r, EX.UNAVAILABLE, 'install --mount of a ramfs dir');
    expectOneLineError(r, ['install', dir, '--run-as-owner', `uid ${ids.uid}`]);
    assert.deepEqual(serverNames(root), []);
  });

  it('--run-as-owner refuses a directory root owns', async () => {
    const r = await installFiles(root, 'files', os.tmpdir(), ['--mount', `${os.tmpdir()}:rw`,
      '--run-as-owner']);
    expectExit(r, EX.USAGE, '--run-as-owner on a root-owned dir');
    expectOneLineError(r, ['install', 'root']);
    assert.deepEqual(serverNames(root), []);
  });

  it('--run-as-owner: the server runs as the owner and writes there; nothing is chowned', async () => {
    const r = await installFiles(root, 'files', dir, ['--mount', `${dir}:rw`, '--run-as-owner']);
    expectExit(r, 0, 'install --run-as-owner');
    const m = JSON.parse(fs.readFileSync(path.join(root, 'servers', 'files', 'manifest.json'), 'utf8'));
    assert.deepEqual(m.sandbox.run_as, { uid: ids.uid, gid: ids.gid });
    const info = await corral(['info', 'files'], { root });
    assert.match(info.stdout, new RegExp(`runs as: +uid ${ids.uid} gid ${ids.gid}`));
    daemon = await startDaemon(root);
    await waitReady(root, ['files'], 90000);
    const w = await corral(['call', 'files__write_file', `path=${path.join(dir, 'new.txt')}`,
      'content=written as the owner'], { root });
    expectExit(w, 0, 'write_file');
    const st = fs.statSync(path.join(dir, 'new.txt'));
    assert.deepEqual([st.uid, st.gid], [ids.uid, ids.gid]);
    const d = fs.statSync(dir);
    assert.deepEqual([d.uid, d.gid, d.mode & 0o7777], [ids.uid, ids.gid, 0o755]);
  });
});
