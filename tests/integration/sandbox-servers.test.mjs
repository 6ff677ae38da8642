/* Real servers still work under corral-sandbox (issue 4): server-everything,
 * server-memory keeping its graph in its data dir, server-filesystem on a
 * directory bound by the policy; `corral run`; an OOM kill reported in
 * `corral status`; no fd of the launcher reaches the server. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import {
  CORRAL, FIXTURES, MOCK_SERVER, McpClient, cleanupRoot, corral, corralEnv, emptyPkg, expectExit, installFixture,
  newRoot, resultText, run, startDaemon, unitOf, waitReady, waitStatus, withTimeout,
} from './lib.mjs';

const SANDBOX = path.join(path.dirname(CORRAL), 'corral-sandbox');
const FS_BIN = 'node_modules/@modelcontextprotocol/server-filesystem/dist/index.js';

function editManifest(root, name, fn) {
  const p = path.join(root, 'servers', name, 'manifest.json');
  const m = JSON.parse(fs.readFileSync(p, 'utf8'));
  fn(m);
  fs.writeFileSync(p, JSON.stringify(m, null, 2));
}

/* The leftover cgroups of a launcher pid, on v1 or v2. */
function cgroupDirsOf(pid) {
  const found = [];
  const walk = (dir, depth) => {
    if (depth > 6) return;
    let ents = [];
    try { ents = fs.readdirSync(dir, { withFileTypes: true }); } catch { return; }
    for (const e of ents) {
      if (!e.isDirectory()) continue;
      const p = path.join(dir, e.name);
      if (e.name.endsWith(`-${pid}`) && path.basename(dir) === 'corral') found.push(p);
      else walk(p, depth + 1);
    }
  };
  walk('/sys/fs/cgroup', 0);
  return found;
}

describe('real servers sandboxed', () => {
  let root, shared, daemon;

  before(async () => {
    root = newRoot('sbx');
    shared = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-sbx-shared-'));
    fs.writeFileSync(path.join(shared, 'hello.txt'), 'hello from the host\n');
    // A bind grants no permission: the server runs as its own unprivileged
    // uid, so the directory must be open to it as to any other user.
    fs.chmodSync(shared, 0o777);
    await installFixture(root, 'everything');
    await installFixture(root, 'memory');
    const fsDir = path.join(FIXTURES, 'filesystem');
    assert.ok(fs.existsSync(path.join(fsDir, FS_BIN)), `fixture ${fsDir} missing`);
    const r = await corral(['install', fsDir, '--name', 'files', '--yes', '--', 'node', FS_BIN, shared],
      { root, timeout: 120000 });
    expectExit(r, 0, 'install server-filesystem');
    editManifest(root, 'files', (m) => { m.sandbox.mounts = [`${shared}:rw`]; });
    daemon = await startDaemon(root);
  });

  after(async () => {
    if (daemon) await daemon.stop();
    cleanupRoot(root);
    fs.rmSync(shared, { recursive: true, force: true });
  });

  it('runs every server confined by its policy', async () => {
    const st = await waitReady(root, ['everything', 'memory', 'files'], 90000);
    for (const n of ['everything', 'memory', 'files']) {
      const u = unitOf(st, n);
      assert.equal(u.sandbox, 'default', n);
      assert.equal(u.confined, true, n);
    }
    const listing = await corral(['status'], { root });
    assert.doesNotMatch(listing.stdout, /unconfined/);
    const info = await corral(['info', 'memory'], { root });
    expectExit(info, 0, 'info');
    assert.match(info.stdout + info.stderr, /default \(memory 512 MiB, 256 pids, 1 cpus\)/);
  });

  it('server-everything answers', async () => {
    const r = await corral(['call', 'everything__echo', 'message=sandboxed'], { root });
    expectExit(r, 0, 'call echo');
    assert.match(r.stdout, /Echo: sandboxed/);
  });

  it('server-memory writes its store in its data dir, nowhere else', async () => {
    const r = await corral(['call', 'memory__create_entities',
      'entities=[{"name":"corral","entityType":"tool","observations":["sandboxed"]}]'], { root });
    expectExit(r, 0, 'create_entities');
    const file = path.join(root, 'data', 'memory', 'memory.jsonl');
    assert.match(fs.readFileSync(file, 'utf8'), /"name":"corral"/);
    const back = await corral(['call', 'memory__read_graph'], { root });
    assert.match(back.stdout, /sandboxed/);
  });

  it('server-filesystem reads and writes the bound directory only', async () => {
    let r = await corral(['call', 'files__read_text_file', `path=${path.join(shared, 'hello.txt')}`], { root });
    expectExit(r, 0, 'read_text_file');
    assert.match(r.stdout, /hello from the host/);
    r = await corral(['call', 'files__write_file', `path=${path.join(shared, 'out.txt')}`,
      'content=written inside'], { root });
    expectExit(r, 0, 'write_file');
    assert.equal(fs.readFileSync(path.join(shared, 'out.txt'), 'utf8'), 'written inside');
    // The store itself is not there: the server's own manifest is invisible.
    r = await corral(['call', 'files__list_directory', `path=${path.join(root, 'servers')}`], { root });
    assert.doesNotMatch(r.stdout, /manifest\.json/);
  });

  it('corral run serves one server on stdio', async () => {
    const c = new McpClient('corral run memory');
    const child = spawn(CORRAL, ['--root', root, 'run', 'memory'], {
      env: corralEnv(), stdio: ['pipe', 'pipe', 'pipe'],
    });
    c.child = child;
    c.exit = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
    child.stderr.on('data', (d) => { c.stderr += d; });
    child.stdin.on('error', () => {});
    c._attach(child.stdout, child.stdin);
    await c.initialize();
    const res = await c.callTool('read_graph', {});
    assert.match(resultText(res), /corral/);
    child.stdin.end();
    const ex = await withTimeout(c.exit, 20000, 'corral run to exit on EOF');
    assert.equal(ex.code, 0, c.stderr);
    assert.deepEqual(cgroupDirsOf(child.pid), []);
  });
});

describe('corral-sandbox alone', () => {
  let dir;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-sbx-alone-'));
    fs.mkdirSync(path.join(dir, 'data'));
    fs.writeFileSync(path.join(dir, 'policy.json'),
      JSON.stringify({ name: 'alone', data: path.join(dir, 'data') }));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('leaks no fd into the server', async () => {
    const fd = fs.openSync(path.join(dir, 'policy.json'), 'r'); // inherited as fd 3+
    try {
      const r = await new Promise((resolve) => {
        const child = spawn(SANDBOX, ['--policy', path.join(dir, 'policy.json'), '--', '/bin/ls', '/proc/self/fd'],
          { stdio: ['ignore', 'pipe', 'pipe', fd, fd] });
        let out = '', err = '';
        child.stdout.on('data', (d) => { out += d; });
        child.stderr.on('data', (d) => { err += d; });
        child.on('close', (code) => resolve({ code, out, err }));
      });
      assert.equal(r.code, 0, r.err);
      // ls's own directory fd is 3.
      assert.deepEqual(r.out.trim().split('\n'), ['0', '1', '2', '3']);
    } finally {
      fs.closeSync(fd);
    }
  });

  it('rejects a policy with an unknown key', async () => {
    fs.writeFileSync(path.join(dir, 'bad.json'), JSON.stringify({ name: 'x', netwrk: 'host' }));
    const r = await run(SANDBOX, ['--policy', path.join(dir, 'bad.json'), '--', '/bin/true']);
    assert.equal(r.code, 65);
    assert.match(r.stderr, /unknown key 'netwrk'/);
  });
});

describe('OOM kills', () => {
  let root, daemon;
  after(async () => {
    if (daemon) await daemon.stop();
    cleanupRoot(root);
  });

  it('are reported in corral status, counted by the kernel: a child killed while its server lives on too', async () => {
    root = newRoot('oom');
    const hog = 'const a = []; for (;;) a.push(Buffer.alloc(1 << 20, 1));';
    const r = await corral(['install', emptyPkg(root, 'hog'), '--name', 'hog', '--yes', '--',
      'node', '-e', hog], { root });
    expectExit(r, 0, 'install hog');
    editManifest(root, 'hog', (m) => { m.sandbox.memory_mb = 64; m.restart = 'no'; });
    // A server whose child the OOM killer kills: the server stays ready,
    // no exit says "OOM", only the cgroup's kernel counter knows.
    {
      const k = await corral(['install', emptyPkg(root, 'kid'), '--name', 'kid', '--yes', '--',
        process.execPath, MOCK_SERVER, 'oom-child'], { root });
      expectExit(k, 0, 'install kid');
      editManifest(root, 'kid', (m) => { m.sandbox.memory_mb = 160; });
    }
    daemon = await startDaemon(root);
    const st = await waitStatus(root, (s) => unitOf(s, 'hog')?.state === 'failed',
      'hog to fail', 60000);
    assert.equal(unitOf(st, 'hog').last_error, 'killed by the OOM killer (memory limit 64 MiB)');
    assert.equal(unitOf(st, 'hog').oom_kills, 1);
    const listing = await corral(['status'], { root });
    assert.match(listing.stdout, /OOM killer/);
    const kid = await waitStatus(root, (s) => unitOf(s, 'kid')?.oom_kills >= 1,
      'the OOM kill of kid\'s child to be counted', 60000);
    assert.equal(unitOf(kid, 'kid').state, 'ready', JSON.stringify(unitOf(kid, 'kid')));
    assert.equal(unitOf(kid, 'kid').restarts, 0);
    const logs = expectExit(await corral(['logs', 'kid'], { root }), 0, 'logs kid').stdout;
    assert.match(logs, /child ended SIGKILL/);
  });
});
