// Git sources against a real `git daemon` (Debian's git) on 127.0.0.1 and
// file:// repositories, all created here: branches, tags, commits, subdirs,
// submodules, pinned-commit reproducibility, `corral update` moving a branch
// and a tag, and hostile trees (escaping symlinks, file:// and ext::
// submodules, oversized trees, hooks and filters that must not run, missing
// refs, unreachable hosts).  The installed server is listed and called
// through the gateway.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { gitEnv as gitEnvFor, gitRunner } from './gitutil.mjs';

import {
  EX, MOCK_SERVER, SANITIZE, cleanupRoot, corral, expectExit, expectOneLineError, newRoot, startDaemon,
  waitReady,
} from './lib.mjs';

const work = newRoot('gitsrv');
const srv = path.join(work, 'srv');    // what git daemon exports
const wt = path.join(work, 'wt');      // working trees the tests commit in
const home = path.join(work, 'home');  // corral's HOME: a hostile ~/.gitconfig
const marker = path.join(work, 'PWNED');
let daemon;
let port;

const gitEnv = gitEnvFor(path.join(work, 'githome'));

const git = gitRunner(gitEnv);

/* A working tree wt/NAME with files {path: content | {link}} committed on
 * main, and its bare copy srv/NAME.git that the daemon serves. */
function makeRepo(name, files) {
  const dir = path.join(wt, name);
  fs.mkdirSync(dir, { recursive: true });
  git(dir, 'init', '-q', '-b', 'main');
  commitFiles(name, files, 'initial');
  git(work, 'clone', '-q', '--bare', dir, path.join(srv, `${name}.git`));
  git(dir, 'remote', 'add', 'origin', path.join(srv, `${name}.git`));
  return dir;
}

function commitFiles(name, files, msg) {
  const dir = path.join(wt, name);
  for (const [p, c] of Object.entries(files)) {
    const f = path.join(dir, p);
    fs.mkdirSync(path.dirname(f), { recursive: true });
    if (typeof c === 'object' && !Buffer.isBuffer(c)) fs.symlinkSync(c.link, f);
    else fs.writeFileSync(f, c);
  }
  git(dir, 'add', '-A');
  git(dir, 'commit', '-q', '-m', msg);
  return git(dir, 'rev-parse', 'HEAD');
}

const push = (name, ...refs) => git(path.join(wt, name), 'push', '-q', '--force', 'origin', ...refs);
const url = (name) => `git://127.0.0.1:${port}/${name}.git`;
const env = () => ({ HOME: home, CORRAL_GITHUB_URL: `git://127.0.0.1:${port}/` });
const install = (root, spec, ...extra) =>
  corral(['install', spec, '--yes', ...extra], { root, env: env(), timeout: 120000 });
const manifestOf = (root, name) =>
  JSON.parse(fs.readFileSync(path.join(root, 'servers', name, 'manifest.json'), 'utf8'));

function treeHash(dir) {
  const h = createHash('sha256');
  const walk = (rel) => {
    for (const e of fs.readdirSync(path.join(dir, rel)).sort()) {
      const r = rel ? `${rel}/${e}` : e;
      const st = fs.lstatSync(path.join(dir, r));
      h.update(`${r}\0${st.mode & 0o111}\0`);
      if (st.isDirectory()) walk(r);
      else if (st.isSymbolicLink()) h.update(fs.readlinkSync(path.join(dir, r)));
      else h.update(fs.readFileSync(path.join(dir, r)));
    }
  };
  walk('');
  return h.digest('hex');
}

function storeEmpty(root) {
  const list = (d) => (fs.existsSync(d) ? fs.readdirSync(d).filter((e) => e !== '.lock') : []);
  assert.deepEqual(list(path.join(root, 'servers')), [], 'servers/ is empty');
  assert.deepEqual(list(path.join(root, 'staging')), [], 'staging/ is empty');
}

async function freePort() {
  const s = net.createServer();
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const p = s.address().port;
  await new Promise((r) => s.close(r));
  return p;
}

const SERVER = fs.readFileSync(MOCK_SERVER, 'utf8');
const pkgJson = (name, bin) => `${JSON.stringify({ name, version: '1.0.0', bin })}\n`;

let c1; let c2; // commits of "tool" on main
let listener; // a host-side TCP server a build must not reach
let listenerHits = 0;

before(async () => {
  fs.mkdirSync(srv, { recursive: true });
  fs.mkdirSync(home, { recursive: true });
  fs.mkdirSync(path.join(work, 'githome'), { recursive: true });
  // A ~/.gitconfig that would run programs if anything honoured it.
  fs.writeFileSync(path.join(home, '.gitconfig'),
    `[filter "evil"]\n\tsmudge = touch ${marker}\n\tclean = touch ${marker}\n\trequired = true\n` +
    `[core]\n\thooksPath = ${path.join(work, 'hooks')}\n\tautocrlf = true\n` +
    `[url "file://${path.join(work, 'nowhere')}/"]\n\tinsteadOf = git://127.0.0.1\n`);
  fs.mkdirSync(path.join(work, 'hooks'));
  for (const h of ['post-checkout', 'post-merge', 'reference-transaction']) {
    fs.writeFileSync(path.join(work, 'hooks', h), `#!/bin/sh\ntouch ${marker}\n`, { mode: 0o755 });
  }

  c1 = commitOrMake('tool', {
    'package.json': pkgJson('tool-mcp', 'server.mjs'),
    'server.mjs': SERVER,
    'VERSION.txt': 'one $Id$\n',
    '.gitattributes': '*.txt ident\nVERSION.txt filter=evil\n',
    'sub/package.json': pkgJson('sub-mcp', 'srv.mjs'),
    'sub/srv.mjs': SERVER,
    'docs/link': { link: '../VERSION.txt' },
  });
  git(path.join(wt, 'tool'), 'tag', 'v1');
  c2 = commitFiles('tool', { 'VERSION.txt': 'two $Id$\n' }, 'second');
  push('tool', 'main', 'v1');
  // The served repository has hooks of its own too.
  for (const h of ['post-upload-pack', 'pre-receive']) {
    fs.writeFileSync(path.join(srv, 'tool.git', 'hooks', h), `#!/bin/sh\ntouch ${marker}\n`, { mode: 0o755 });
  }

  makeRepo('escape', { 'package.json': pkgJson('escape', 'x.js'), 'x.js': '', 'evil': { link: '../../../../etc/shadow' } });
  makeRepo('abslink', { 'package.json': pkgJson('abslink', 'x.js'), 'x.js': '', 'evil': { link: '/root' } });
  makeRepo('big', { 'package.json': pkgJson('big', 'x.js'), 'x.js': '', 'blob.bin': randomBytes(3 << 20) });
  makeRepo('lib', { 'lib.js': 'module.exports = 42;\n' });
  const libCommit = git(path.join(wt, 'lib'), 'rev-parse', 'HEAD');
  for (const [name, subUrl] of [['withsub', `git://127.0.0.1:PORT/lib.git`],
    ['filesub', `file://${path.join(srv, 'lib.git')}`], ['extsub', 'ext::sh -c touch% ' + marker]]) {
    makeRepo(name, { 'package.json': pkgJson(name, 'x.js'), 'x.js': '' });
    const dir = path.join(wt, name);
    // A gitlink at vendor/lib plus .gitmodules, written by hand so that git
    // itself never fetches the (hostile) URL.
    git(dir, 'update-index', '--add', '--cacheinfo', `160000,${libCommit},vendor/lib`);
    setGitmodules(name, subUrl);
  }

  // Builds: package.json "build" scripts, run inside the sandbox.
  const build = (name, script, extra = {}) => makeRepo(name, {
    'package.json': `${JSON.stringify({ name, version: '1.0.0', main: 'dist/server.mjs', scripts: { build: script } })}\n`,
    'src/server.mjs': SERVER, ...extra,
  });
  build('built', 'mkdir -p dist && cp src/server.mjs dist/server.mjs && echo built-by-$(id -u)');
  fs.writeFileSync(path.join(work, 'secret.txt'), 'TOP-SECRET\n');
  listener = net.createServer((sock) => { listenerHits++; sock.destroy(); });
  await new Promise((r) => listener.listen(0, '127.0.0.1', r));
  build('phone-home', `node -e "require('net').connect(${listener.address().port}, '127.0.0.1').on('connect', () => process.exit(0)).on('error', (e) => { console.log('blocked:', e.code); process.exit(7); })"`);
  build('write-out', `mkdir -p dist && cp src/server.mjs dist/ && touch ${marker}`);
  build('read-secret', `cat ${path.join(work, 'secret.txt')} /root/.bashrc; ls /root`);
  build('daemon', 'mkdir -p dist && cp src/server.mjs dist/ && (setsid sleep 987654 >/dev/null 2>&1 &) && echo left a daemon');
  build('fork-bomb', 'b() { b | b & }; b; sleep 60');
  build('slow', 'sleep 100');
  build('bad-link', 'mkdir -p dist && cp src/server.mjs dist/ && ln -s /etc/shadow dist/leak');
  build('fails', 'echo about to fail; exit 3');

  port = await freePort();
  // The PORT placeholder in withsub's .gitmodules is fixed now that it is known.
  setGitmodules('withsub', `git://127.0.0.1:${port}/lib.git`);

  daemon = spawn('git', ['daemon', '--reuseaddr', '--export-all', `--base-path=${srv}`,
    '--listen=127.0.0.1', `--port=${port}`, '--informative-errors', srv],
  { env: gitEnv, stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise((r) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => { s.destroy(); r(true); });
      s.once('error', () => r(false));
    });
    if (ok) break;
    await new Promise((r) => setTimeout(r, 100));
  }
});

/* .gitmodules naming url for vendor/lib, committed without `git add -A`
 * (which would drop the gitlink whose directory is absent). */
function setGitmodules(name, subUrl) {
  const dir = path.join(wt, name);
  fs.writeFileSync(path.join(dir, '.gitmodules'), `[submodule "lib"]\n\tpath = vendor/lib\n\turl = ${subUrl}\n`);
  git(dir, 'add', '.gitmodules');
  git(dir, 'commit', '-q', '-m', 'submodule');
  push(name, 'main');
}

function commitOrMake(name, files) {
  makeRepo(name, files);
  return git(path.join(wt, name), 'rev-parse', 'HEAD');
}

after(() => {
  if (daemon) daemon.kill('SIGKILL');
  if (listener) listener.close();
  cleanupRoot(work);
});

describe('git sources', () => {
  test('github: through CORRAL_GITHUB_URL installs the default branch, pinned by commit', async () => {
    const root = newRoot('git');
    try {
      const r = await install(root, 'github:x/../tool');
      expectExit(r, EX.USAGE, 'a path in OWNER/REPO is refused');
      // The daemon's base path holds tool.git: github:srv/tool would need an owner dir.
      fs.mkdirSync(path.join(srv, 'acme'), { recursive: true });
      if (!fs.existsSync(path.join(srv, 'acme', 'tool.git'))) {
        fs.symlinkSync(path.join(srv, 'tool.git'), path.join(srv, 'acme', 'tool.git'));
      }
      expectExit(await install(root, 'github:acme/tool'), 0, 'install github:acme/tool');
      const m = manifestOf(root, 'tool');
      assert.equal(m.source.kind, 'git');
      assert.equal(m.source.resolved.commit, c2);
      assert.equal(m.source.resolved.version, 'main');
      assert.equal(m.source.resolved.url, `git://127.0.0.1:${port}/acme/tool.git`);
      assert.deepEqual(m.runtime.command, ['node', 'server.mjs']);
      const pkg = path.join(root, 'servers', 'tool', 'pkg');
      assert.equal(fs.existsSync(path.join(pkg, '.git')), false, 'no .git in pkg/');
      // No filter ran: the ident attribute's $Id$ is not expanded, the
      // "evil" filter of ~/.gitconfig did not run, no hook ran.
      // No eol conversion either (core.autocrlf in ~/.gitconfig is not read).
      assert.equal(fs.readFileSync(path.join(pkg, 'VERSION.txt'), 'utf8'), 'two $Id$\n');
      assert.ok(!fs.readFileSync(path.join(pkg, 'package.json'), 'utf8').includes('\r'));
      assert.equal(fs.readlinkSync(path.join(pkg, 'docs', 'link')), '../VERSION.txt');
      assert.equal(fs.existsSync(marker), false, 'no hook or filter ran');
      // A mirror in the cache.
      const mirrors = fs.readdirSync(path.join(root, 'cache', 'git')).filter((e) => e.endsWith('.git'));
      assert.equal(mirrors.length, 1);
    } finally {
      cleanupRoot(root);
    }
  });

  test('tags, commits and subdirectories; reinstalls are reproducible', async () => {
    const root = newRoot('git');
    try {
      expectExit(await install(root, `${url('tool')}#v1`, '--name', 'at-tag'), 0);
      assert.equal(manifestOf(root, 'at-tag').source.resolved.commit, c1);
      assert.equal(manifestOf(root, 'at-tag').source.resolved.version, 'v1');
      const pkg = path.join(root, 'servers', 'at-tag', 'pkg');
      assert.equal(fs.readFileSync(path.join(pkg, 'VERSION.txt'), 'utf8'), 'one $Id$\n');

      expectExit(await install(root, `${url('tool')}#${c1}`, '--name', 'at-commit'), 0);
      assert.equal(manifestOf(root, 'at-commit').source.resolved.commit, c1);
      const h1 = treeHash(path.join(root, 'servers', 'at-commit', 'pkg'));
      assert.equal(h1, treeHash(pkg), 'tag and commit give the same tree');

      expectExit(await install(root, `${url('tool')}#main:sub`), 0, 'install a subdirectory');
      const ms = manifestOf(root, 'sub');
      assert.equal(ms.runtime.cwd, 'pkg/sub');
      assert.deepEqual(ms.runtime.command, ['node', 'srv.mjs']);

      expectExit(await install(root, `file://${path.join(srv, 'tool.git')}#v1`, '--name', 'from-file'), 0);
      assert.equal(treeHash(path.join(root, 'servers', 'from-file', 'pkg')), h1);

      // Uninstall and install again: the same commit gives the same tree.
      expectExit(await corral(['uninstall', 'at-commit'], { root }), 0);
      expectExit(await install(root, `git+file://${path.join(srv, 'tool.git')}#${c1}`, '--name', 'at-commit'), 0);
      assert.equal(treeHash(path.join(root, 'servers', 'at-commit', 'pkg')), h1);
    } finally {
      cleanupRoot(root);
    }
  });

  test('corral update moves a branch and a moved tag, showing old..new; --frozen stays', async () => {
    const root = newRoot('git');
    try {
      makeRepo('moving', { 'package.json': pkgJson('moving', 'server.mjs'), 'server.mjs': SERVER, 'n.txt': '1\n' });
      const m1 = git(path.join(wt, 'moving'), 'rev-parse', 'HEAD');
      git(path.join(wt, 'moving'), 'tag', 'stable');
      push('moving', 'main', 'stable');
      expectExit(await install(root, url('moving')), 0);
      expectExit(await install(root, `${url('moving')}#stable`, '--name', 'pinned-tag'), 0);
      let r = await corral(['update', 'moving'], { root, env: env() });
      expectExit(r, 0);
      assert.match(r.stdout, /up to date/);

      const m2 = commitFiles('moving', { 'n.txt': '2\n' }, 'two');
      push('moving', 'main');
      // --frozen reinstalls the recorded commit, not the branch's new one.
      expectExit(await install(root, url('moving'), '--frozen'), 0);
      assert.equal(manifestOf(root, 'moving').source.resolved.commit, m1);

      r = await corral(['update', 'moving'], { root, env: env() });
      expectExit(r, 0);
      assert.ok(r.stdout.includes(`${m1.slice(0, 12)}..${m2.slice(0, 12)}`), r.stdout);
      assert.equal(manifestOf(root, 'moving').source.resolved.commit, m2);
      assert.equal(fs.readFileSync(path.join(root, 'servers', 'moving', 'pkg', 'n.txt'), 'utf8'), '2\n');

      git(path.join(wt, 'moving'), 'tag', '-f', 'stable');
      push('moving', 'stable');
      r = await corral(['update', '--json', 'pinned-tag'], { root, env: env() });
      expectExit(r, 0);
      const j = JSON.parse(r.stdout);
      assert.deepEqual([j.updated, j.old_commit, j.commit, j.ref], [true, m1, m2, 'stable']);

      r = await corral(['update', 'pinned-tag'], { root, env: env() });
      assert.match(r.stdout, /up to date/);

      expectExit(await install(root, `${url('moving')}#${m1}`, '--name', 'by-commit'), 0);
      r = await corral(['update', 'by-commit'], { root, env: env() });
      expectExit(r, EX.USAGE);
      expectOneLineError(r, ['pins commit']);
    } finally {
      cleanupRoot(root);
    }
  });

  test('the installed server runs sandboxed and is called through the gateway', async () => {
    const root = newRoot('git');
    let d;
    try {
      expectExit(await install(root, `${url('tool')}#v1`, '--name', 'gt'), 0);
      d = await startDaemon(root);
      await waitReady(root, ['gt']);
      const tools = await corral(['tools'], { root });
      assert.match(tools.stdout, /gt__echo/);
      const r = await corral(['call', 'gt__echo', 'text=from-git'], { root });
      expectExit(r, 0);
      assert.match(r.stdout, /from-git/);
    } finally {
      if (d) await d.stop();
      cleanupRoot(root);
    }
  });

  test('submodules: only with --submodules, only git:// and https://', async () => {
    const root = newRoot('git');
    try {
      let r = await install(root, url('withsub'));
      expectExit(r, 0);
      assert.match(r.stderr, /submodules not fetched.*vendor\/lib/);
      const pkg = path.join(root, 'servers', 'withsub', 'pkg');
      assert.equal(fs.existsSync(path.join(pkg, 'vendor', 'lib', 'lib.js')), false);

      r = await install(root, url('withsub'), '--submodules', '--force');
      expectExit(r, 0);
      assert.equal(fs.readFileSync(path.join(pkg, 'vendor', 'lib', 'lib.js'), 'utf8'), 'module.exports = 42;\n');

      for (const name of ['filesub', 'extsub']) {
        r = await install(root, url(name), '--submodules');
        expectExit(r, EX.DATAERR, name);
        expectOneLineError(r, ['submodule vendor/lib', 'refused']);
        assert.equal(fs.existsSync(path.join(root, 'servers', name)), false);
      }
      assert.equal(fs.existsSync(marker), false, 'ext:: ran nothing');
    } finally {
      cleanupRoot(root);
    }
  });

  test('hostile trees and bad refs fail with one line and leave nothing behind', async () => {
    const root = newRoot('git');
    try {
      let r = await install(root, url('escape'));
      expectExit(r, EX.DATAERR);
      expectOneLineError(r, ['symlink evil', 'outside']);
      r = await install(root, url('abslink'));
      expectExit(r, EX.DATAERR);
      expectOneLineError(r, ['symlink evil', '/root']);

      r = await corral(['install', url('big'), '--yes'],
        { root, env: { ...env(), CORRAL_GIT_MAX_FETCH: String(1 << 20) } });
      expectExit(r, EX.DATAERR);
      expectOneLineError(r, ['CORRAL_GIT_MAX_FETCH']);
      r = await corral(['install', url('big'), '--yes'],
        { root, env: { ...env(), CORRAL_GIT_MAX_CHECKOUT: String(2 << 20) } });
      expectExit(r, EX.DATAERR);
      expectOneLineError(r, ['CORRAL_GIT_MAX_CHECKOUT', 'blob.bin']);

      r = await install(root, `${url('tool')}#no-such-branch`);
      expectExit(r, EX.NOINPUT);
      expectOneLineError(r, ['no-such-branch']);
      r = await install(root, `${url('tool')}#${'0'.repeat(40)}`);
      expectExit(r, EX.NOINPUT);
      r = await install(root, `${url('tool')}#v1:nope`);
      expectExit(r, EX.NOINPUT);
      expectOneLineError(r, ['nope']);
      r = await install(root, url('no-such-repo'));
      expectExit(r, EX.UNAVAILABLE);
      expectOneLineError(r, ['cannot fetch']);
      r = await install(root, `git://127.0.0.1:${await freePort()}/x.git`);
      expectExit(r, EX.UNAVAILABLE);
      expectOneLineError(r, ['cannot fetch', '127.0.0.1']);
      r = await install(root, 'https://user:secret@127.0.0.1:1/x.git');
      expectExit(r, EX.USAGE);
      expectOneLineError(r, ['password']);
      assert.ok(!r.stderr.includes('secret'));
      r = await install(root, 'git@127.0.0.1:x/y.git');
      expectExit(r, EX.UNAVAILABLE);
      expectOneLineError(r, ['ssh']);
      storeEmpty(root);
      assert.equal(fs.existsSync(marker), false);
    } finally {
      cleanupRoot(root);
    }
  });

  test('--offline uses the mirror and never the network', async () => {
    const root = newRoot('git');
    try {
      let r = await install(root, `${url('tool')}#v1`, '--offline');
      expectExit(r, EX.UNAVAILABLE);
      expectOneLineError(r, ['--offline']);
      expectExit(await install(root, `${url('tool')}#v1`), 0);
      r = await corral(['install', `git://127.0.0.1:${port}/tool.git#v1`, '--yes', '--offline',
        '--name', 'off'], { root, env: { ...env(), CORRAL_GITHUB_URL: 'git://127.0.0.1:1/' } });
      expectExit(r, 0);
      assert.equal(manifestOf(root, 'off').source.resolved.commit, c1);
    } finally {
      cleanupRoot(root);
    }
  });
});

/* sandbox_uid_for() of include/corral/sandbox.h */
function sandboxUid(name) {
  let h = 2166136261;
  for (const c of Buffer.from(name)) { h ^= c; h = Math.imul(h, 16777619) >>> 0; }
  return 0x60000000 + (h & 0xffffff);
}

/* pids of processes running as uid, or whose command line has needle. */
function processes({ uid, needle }) {
  const out = [];
  for (const p of fs.readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
    try {
      const st = fs.readFileSync(`/proc/${p}/status`, 'utf8');
      const u = Number(/^Uid:\s+(\d+)/m.exec(st)[1]);
      const cmd = fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if ((uid !== undefined && u === uid) || (needle && cmd.includes(needle))) out.push(`${p} ${cmd}`);
    } catch { /* gone */ }
  }
  return out;
}

describe('builds run inside the sandbox', { skip: process.getuid() !== 0 && 'needs root (dedicated build uids)' }, () => {
  test('a build script builds pkg/, unprivileged and logged, and the server is called', async () => {
    const root = newRoot('gitb');
    let d;
    try {
      const r = await install(root, url('built'));
      expectExit(r, 0);
      const m = manifestOf(root, 'built');
      assert.deepEqual(m.runtime.command, ['node', 'dist/server.mjs']);
      const pkg = path.join(root, 'servers', 'built', 'pkg');
      assert.equal(fs.readFileSync(path.join(pkg, 'dist', 'server.mjs'), 'utf8'), SERVER);
      // Built as the sandbox's unprivileged user, handed back to root.
      const log = fs.readFileSync(path.join(root, 'log', 'built.log'), 'utf8');
      assert.match(log, /corral: build: build script/);
      assert.match(log, /built-by-1000/);
      assert.equal(fs.statSync(path.join(pkg, 'dist', 'server.mjs')).uid, 0);
      // No build leftovers in staging or pkg/.
      assert.deepEqual(fs.readdirSync(path.join(root, 'staging')).filter((e) => e !== '.lock'), []);
      assert.equal(fs.existsSync(path.join(pkg, 'build-home')), false);

      d = await startDaemon(root);
      await waitReady(root, ['built']);
      const c = await corral(['call', 'built__echo', 'text=built-from-git'], { root });
      expectExit(c, 0);
      assert.match(c.stdout, /built-from-git/);
    } finally {
      if (d) await d.stop();
      cleanupRoot(root);
    }
  });

  test('hostile builds are blocked or killed, fail clearly and leave nothing behind', async () => {
    const root = newRoot('gitb');
    try {
      let r = await install(root, url('phone-home'));
      expectExit(r, EX.DATAERR);
      expectOneLineError(r, ['build script failed', 'blocked: ECONNREFUSED']);
      assert.equal(listenerHits, 0, 'no connection reached the host');

      r = await install(root, url('write-out'));
      expectExit(r, EX.DATAERR);
      expectOneLineError(r, ['build script failed']);
      assert.equal(fs.existsSync(marker), false, 'nothing written outside staging');

      r = await install(root, url('read-secret'));
      expectExit(r, EX.DATAERR);
      assert.ok(!r.stderr.includes('TOP-SECRET'));
      assert.ok(!fs.readFileSync(path.join(root, 'log', 'read-secret.log'), 'utf8').includes('TOP-SECRET'));

      r = await install(root, url('bad-link'));
      expectExit(r, EX.DATAERR);
      expectOneLineError(r, ['leak', 'outside']);

      r = await install(root, url('fails'));
      expectExit(r, EX.DATAERR);
      expectOneLineError(r, ['exit status 3', 'about to fail']);

      r = await corral(['install', url('slow'), '--yes'],
        { root, env: { ...env(), CORRAL_BUILD_TIMEOUT: '3' }, timeout: 120000 });
      expectExit(r, EX.TEMPFAIL);
      expectOneLineError(r, ['CORRAL_BUILD_TIMEOUT']);

      r = await corral(['install', url('fork-bomb'), '--yes'],
        { root, env: { ...env(), CORRAL_BUILD_TIMEOUT: '10', CORRAL_BUILD_PIDS: '64' }, timeout: 120000 });
      assert.notEqual(r.code, 0, 'the fork bomb fails');
      expectOneLineError(r, ['build script']);
      assert.deepEqual(processes({ uid: sandboxUid('fork-bomb') }), [], 'nothing of the fork bomb runs');
      assert.deepEqual(processes({ uid: sandboxUid('slow') }), [], 'nothing of the slow build runs');
      storeEmpty(root);

      // A build that succeeds but leaves a daemon: the daemon dies with the
      // build's pid namespace.
      r = await install(root, url('daemon'));
      expectExit(r, 0);
      assert.deepEqual(processes({ needle: 'sleep 987654' }), [], 'the daemon is gone');
    } finally {
      cleanupRoot(root);
    }
  });
});

const TS_FILES = {
  'package.json': `${JSON.stringify({
    name: 'ts-mcp', version: '0.1.0', type: 'module', bin: { 'ts-mcp': 'dist/index.js' },
    scripts: { build: 'tsc' },
    dependencies: { '@modelcontextprotocol/sdk': '^1.0.0' },
    devDependencies: { typescript: '^5.4.0' },
  })}\n`,
  'tsconfig.json': `${JSON.stringify({
    compilerOptions: { target: 'ES2022', module: 'Node16', moduleResolution: 'Node16', outDir: 'dist',
      rootDir: 'src', strict: true, skipLibCheck: true, types: [] },
    include: ['src'],
  })}\n`,
  'src/index.ts': `import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { CallToolRequestSchema, ListToolsRequestSchema } from "@modelcontextprotocol/sdk/types.js";

const server = new Server({ name: "ts-mcp", version: "0.1.0" }, { capabilities: { tools: {} } });
server.setRequestHandler(ListToolsRequestSchema, async () => ({
  tools: [{ name: "shout", description: "Upper-cases its text",
            inputSchema: { type: "object", properties: { text: { type: "string" } }, required: ["text"] } }],
}));
server.setRequestHandler(CallToolRequestSchema, async (req) => {
  const text = String((req.params.arguments ?? {}).text ?? "");
  return { content: [{ type: "text", text: text.toUpperCase() + " (compiled by tsc)" }] };
});
await server.connect(new StdioServerTransport());
`,
};

describe('a TypeScript MCP server built from git', { skip: process.getuid() !== 0 && 'needs root' }, () => {
  // Mostly npm's registry and tsc at work: run once, not again under ASan.
  test('dependencies from the npm registry, tsc in the sandbox, devDependencies pruned, called through the gateway', { skip: SANITIZE && 'outside tools; not rerun under ASan' }, async () => {
    const root = newRoot('gitts');
    let d;
    try {
      makeRepo('ts-mcp', TS_FILES);
      const r = await corral(['install', url('ts-mcp'), '--yes'], { root, env: env(), timeout: 600000 });
      expectExit(r, 0);
      const m = manifestOf(root, 'ts-mcp');
      assert.deepEqual(m.runtime.command, ['node', 'dist/index.js']);
      const pkg = path.join(root, 'servers', 'ts-mcp', 'pkg');
      assert.ok(fs.existsSync(path.join(pkg, 'dist', 'index.js')), 'tsc wrote dist/index.js');
      assert.ok(fs.existsSync(path.join(pkg, 'node_modules', '@modelcontextprotocol', 'sdk', 'package.json')));
      assert.equal(fs.existsSync(path.join(pkg, 'node_modules', 'typescript')), false, 'devDependencies pruned');
      assert.ok(m.source.lock.some((e) => e.name === '@modelcontextprotocol/sdk'));
      assert.ok(!m.source.lock.some((e) => e.name === 'typescript'));
      assert.match(fs.readFileSync(path.join(root, 'log', 'ts-mcp.log'), 'utf8'), /build script: \/bin\/sh -c tsc/);

      d = await startDaemon(root);
      await waitReady(root, ['ts-mcp'], 120000);
      const c = await corral(['call', 'ts-mcp__shout', 'text=hello'], { root });
      expectExit(c, 0);
      assert.match(c.stdout, /HELLO \(compiled by tsc\)/);
    } finally {
      if (d) await d.stop();
      cleanupRoot(root);
    }
  });

  // A monorepo shaped like modelcontextprotocol/servers: root "workspaces",
  // src/<name>/package.json per server, a sibling library they depend on,
  // and typescript as a root devDependency that src/alpha's "tsc" finds on
  // the PATH npm gives scripts (every node_modules/.bin up to the root).
  const MONO = {
    'package.json': `${JSON.stringify({ name: 'mono', private: true, workspaces: ['src/*'],
      devDependencies: { typescript: '^5.4.0' } })}\n`,
    'src/shared/package.json': `${JSON.stringify({ name: '@mono/shared', version: '1.0.0', main: 'dist/index.js',
      scripts: { build: 'mkdir -p dist && cp index.src.js dist/index.js' } })}\n`,
    'src/shared/index.src.js': 'exports.suffix = " (via @mono/shared)";\n',
    'src/alpha/package.json': `${JSON.stringify({ name: 'alpha-mcp', version: '2.0.0', type: 'module',
      bin: { 'alpha-mcp': 'dist/index.js' }, scripts: { build: 'tsc' },
      dependencies: { '@modelcontextprotocol/sdk': '^1.0.0', '@mono/shared': '*' } })}\n`,
    'src/alpha/tsconfig.json': TS_FILES['tsconfig.json'],
    'src/alpha/src/index.ts': TS_FILES['src/index.ts']
      .replace('import { Server }', '// @ts-ignore\nimport shared from "@mono/shared";\nimport { Server }')
      .replace('" (compiled by tsc)"', '" (compiled by tsc)" + shared.suffix'),
    'src/beta/package.json': `${JSON.stringify({ name: 'beta-mcp', version: '1.0.0', bin: 'server.mjs' })}\n`,
    'src/beta/server.mjs': SERVER,
    'node_modules/evil/package.json': '{"name":"evil"}\n',
  };

  test('npm workspaces: #SUBDIR installs that workspace with its siblings linked, built in order, pruned', { skip: SANITIZE && 'outside tools; not rerun under ASan' }, async () => {
    const root = newRoot('gitws');
    let d;
    try {
      makeRepo('monorepo', MONO);
      // The root itself is not a server: the error names the workspaces.
      let r = await install(root, url('monorepo'));
      expectExit(r, EX.USAGE);
      expectOneLineError(r, ['workspaces root', 'src/alpha', 'src/beta']);
      storeEmpty(root);

      r = await corral(['install', `${url('monorepo')}#main:src/alpha`, '--yes'], { root, env: env(), timeout: 600000 });
      expectExit(r, 0);
      const m = manifestOf(root, 'alpha');
      assert.equal(m.runtime.cwd, 'pkg/src/alpha');
      assert.deepEqual(m.runtime.command, ['node', 'dist/index.js']);
      const pkg = path.join(root, 'servers', 'alpha', 'pkg');
      assert.equal(fs.readlinkSync(path.join(pkg, 'node_modules', '@mono', 'shared')), '../../src/shared');
      assert.ok(fs.existsSync(path.join(pkg, 'src', 'shared', 'dist', 'index.js')), 'the sibling was built');
      assert.ok(fs.existsSync(path.join(pkg, 'src', 'alpha', 'dist', 'index.js')), 'tsc from the root devDependencies');
      assert.equal(fs.existsSync(path.join(pkg, 'node_modules', 'typescript')), false, 'devDependencies pruned');
      assert.equal(fs.existsSync(path.join(pkg, 'node_modules', 'evil')), false, 'a committed node_modules is dropped');
      assert.equal(fs.existsSync(path.join(pkg, 'node_modules', 'beta-mcp')), false, 'only the needed siblings are linked');
      assert.ok(m.source.lock.some((e) => e.name === '@modelcontextprotocol/sdk'));
      const log = fs.readFileSync(path.join(root, 'log', 'alpha.log'), 'utf8');
      assert.ok(log.indexOf('build script of @mono/shared') < log.indexOf('build script of alpha-mcp'), 'dependencies build first');

      expectExit(await install(root, `${url('monorepo')}#main:src/beta`), 0);
      assert.equal(manifestOf(root, 'beta').runtime.cwd, 'pkg/src/beta');

      d = await startDaemon(root);
      await waitReady(root, ['alpha', 'beta'], 120000);
      const c = await corral(['call', 'alpha__shout', 'text=hello'], { root });
      expectExit(c, 0);
      assert.match(c.stdout, /HELLO \(compiled by tsc\) \(via @mono\/shared\)/);
    } finally {
      if (d) await d.stop();
      cleanupRoot(root);
    }
  });

  test('bad workspace declarations fail with one line and leave nothing behind', async () => {
    const root = newRoot('gitwsbad');
    try {
      const cases = [
        ['ws-dotdot', ['../outside'], EX.DATAERR, 'leaves the repository'],
        ['ws-globstar', ['src/**'], EX.UNAVAILABLE, 'not supported'],
        ['ws-dupname', ['a', 'b'], EX.DATAERR, "two packages are named 'same'"],
      ];
      for (const [name, workspaces, code, msg] of cases) {
        makeRepo(name, {
          'package.json': `${JSON.stringify({ name: 'm', private: true, workspaces })}\n`,
          'a/package.json': pkgJson('same', 'x.js'), 'a/x.js': '',
          'b/package.json': pkgJson('same', 'x.js'), 'b/x.js': '',
        });
        const r = await install(root, `${url(name)}#main:a`);
        expectExit(r, code, name);
        expectOneLineError(r, [msg]);
        storeEmpty(root);
      }
    } finally {
      cleanupRoot(root);
    }
  });
});
