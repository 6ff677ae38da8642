// The CLI verbs against a store and a running daemon, the way a sysadmin uses
// them: install, list, info, status, tools, call, logs, stop/start/restart,
// disable/enable + reload, and --help.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import {
  FIXTURES, cleanupRoot, corral, descendants, describePids, expectExit, installFixture, newRoot,
  pidAlive, startDaemon,
  status, unitOf, waitReady, waitStatus,
} from './lib.mjs';

describe('CLI verbs', { timeout: 600000 }, () => {
  let root;
  let daemon;

  before(async () => {
    root = newRoot('cli');
  });

  after(async () => {
    if (daemon) await daemon.kill();
    cleanupRoot(root);
  });

  test('--help and --version', async () => {
    const r = expectExit(await corral(['--help']), 0, '--help');
    for (const verb of ['install', 'uninstall', 'list', 'info', 'enable', 'disable', 'start', 'stop',
      'restart', 'status', 'tools', 'call', 'logs', 'reload', 'daemon', 'serve']) {
      assert.match(r.stdout, new RegExp(`\\b${verb}\\b`), `--help does not mention ${verb}`);
    }
    const v = expectExit(await corral(['--version']), 0, '--version');
    assert.match(v.stdout, /^corral \d+\.\d+\.\d+/);
    const h = expectExit(await corral(['call', '--help']), 0, 'call --help');
    assert.match(h.stdout, /Usage: corral call/);
    const u = await corral(['nosuchverb']);
    assert.equal(u.code, 64);
    const none = await corral([]);
    assert.equal(none.code, 64);
  });

  test('install a local npm directory: manifest version 1 and pkg/ copied', async () => {
    const r = await installFixture(root, 'everything');
    assert.match(r.stdout + r.stderr, /everything/);
    const dir = path.join(root, 'servers', 'everything');
    const m = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
    assert.equal(m.manifest_version, 1);
    assert.equal(m.name, 'everything');
    assert.equal(m.source.kind, 'local');
    assert.equal(m.runtime.backend, 'native');
    assert.equal(m.runtime.cwd, 'pkg');
    assert.equal(m.runtime.command[0], 'node');
    assert.match(m.runtime.command[1], /server-everything\/dist\/index\.js$/);
    assert.equal(m.enabled, true);
    assert.equal(m.restart, 'on-failure');
    assert.match(m.installed_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d/);
    assert.ok(fs.existsSync(path.join(dir, 'pkg', m.runtime.command[1])), 'the bin was copied into pkg/');
    assert.ok(fs.statSync(path.join(root, 'data', 'everything')).isDirectory(), 'data/NAME created');
    // The source directory is untouched and not referenced.
    assert.ok(!JSON.stringify(m.runtime).includes(FIXTURES), 'the manifest points into the fixture dir');
  });

  test('installing the same name again fails with 73 unless --force', async () => {
    const again = await corral(['install', path.join(FIXTURES, 'everything'), '--name', 'everything', '--yes'],
      { root, timeout: 120000 });
    assert.equal(again.code, 73, `reinstall: ${again.code} ${again.stderr}`);
    assert.match(again.stderr, /already installed/);
    const forced = await corral(['install', path.join(FIXTURES, 'everything'), '--name', 'everything', '--yes',
      '--force'], { root, timeout: 120000 });
    expectExit(forced, 0, 'install --force');
  });

  test('list and info work without a daemon', async () => {
    const l = expectExit(await corral(['list'], { root }), 0, 'list');
    assert.match(l.stdout, /everything/);
    const lj = expectExit(await corral(['list', '--json'], { root }), 0, 'list --json');
    const parsed = JSON.parse(lj.stdout);
    assert.ok(JSON.stringify(parsed).includes('"everything"'));
    const i = expectExit(await corral(['info', 'everything'], { root }), 0, 'info');
    assert.match(i.stdout, /everything/);
    const ij = expectExit(await corral(['info', '--json', 'everything'], { root }), 0, 'info --json');
    const m = JSON.parse(ij.stdout);
    assert.equal(m.name ?? m.manifest?.name, 'everything');
  });

  test('the daemon runs the server; status, tools and call', async () => {
    daemon = await startDaemon(root);
    await waitReady(root, ['everything']);
    const st = expectExit(await corral(['status'], { root }), 0, 'status');
    assert.match(st.stdout, /everything/);
    assert.match(st.stdout, /ready/);
    const sj = await status(root);
    const u = unitOf(sj, 'everything');
    assert.equal(u.enabled, true);
    assert.ok(u.tools >= 10 || Array.isArray(u.tools), `tool count in status: ${JSON.stringify(u)}`);
    assert.equal(sj.pid, daemon.pid);

    const t = expectExit(await corral(['tools'], { root }), 0, 'tools');
    assert.match(t.stdout, /everything__echo/);
    assert.match(t.stdout, /everything__get-sum/);
    const tj = expectExit(await corral(['tools', '--json', 'everything'], { root }), 0, 'tools --json SERVER');
    assert.ok(tj.stdout.includes('everything__echo'));
    JSON.parse(tj.stdout);
    const none = await corral(['tools', 'nosuch'], { root });
    assert.equal(none.code, 66, `tools nosuch: ${none.code} ${none.stderr}`);

    const e = expectExit(await corral(['call', 'everything__echo', 'message=hello from corral'], { root }), 0,
      'call echo key=value');
    assert.match(e.stdout, /Echo: hello from corral/);
    const s = expectExit(await corral(['call', 'everything__get-sum', 'a=2', 'b=3'], { root }), 0, 'call get-sum');
    assert.match(s.stdout, /\b5\b/);
    const sj2 = expectExit(await corral(['call', 'everything__get-sum', '{"a": 40, "b": 2}'], { root }), 0,
      'call get-sum JSON');
    assert.match(sj2.stdout, /\b42\b/);
    const cj = expectExit(await corral(['call', '--json', 'everything__echo', 'message=json'], { root }), 0,
      'call --json');
    const res = JSON.parse(cj.stdout);
    assert.equal(res.content?.[0]?.text, 'Echo: json');
  });

  test('logs shows the server\'s stderr', async () => {
    const r = expectExit(await corral(['logs', 'everything'], { root }), 0, 'logs');
    assert.match(r.stdout, /Starting default \(STDIO\) server/);
    const n = expectExit(await corral(['logs', '-n', '1', 'everything'], { root }), 0, 'logs -n 1');
    assert.ok(n.stdout.trim().split('\n').length <= 1, `logs -n 1 printed: ${n.stdout}`);
    const missing = await corral(['logs', 'nosuch'], { root });
    assert.equal(missing.code, 66);
  });

  test('stop, start and restart a unit', async () => {
    const pid0 = unitOf(await status(root), 'everything').pid;
    const tree0 = [pid0, ...descendants(pid0)];
    expectExit(await corral(['stop', 'everything'], { root }), 0, 'stop');
    await waitStatus(root, (s) => unitOf(s, 'everything')?.state === 'stopped', 'everything stopped');
    assert.deepEqual(describePids(tree0), [], 'the stopped server\'s processes still run');
    const down = await corral(['call', 'everything__echo', 'message=x'], { root });
    assert.equal(down.code, 69, `call on a stopped unit: ${down.code} ${down.stderr}`);
    assert.match(down.stderr, /everything/);
    assert.match(down.stderr, /stopped/);

    expectExit(await corral(['start', 'everything'], { root }), 0, 'start');
    const st = await waitReady(root, ['everything']);
    const pid1 = unitOf(st, 'everything').pid;
    assert.notEqual(pid1, pid0);

    expectExit(await corral(['restart', 'everything'], { root }), 0, 'restart');
    const st2 = await waitStatus(root, (s) => {
      const u = unitOf(s, 'everything');
      return u?.state === 'ready' && u.pid !== pid1;
    }, 'everything restarted');
    assert.ok(pidAlive(unitOf(st2, 'everything').pid));
    assert.ok(!pidAlive(pid1));
    for (const verb of ['start', 'stop', 'restart']) {
      const r = await corral([verb, 'nosuch'], { root });
      assert.equal(r.code, 66, `${verb} nosuch: ${r.code} ${r.stderr}`);
    }
  });

  test('disable + reload stops the unit; enable + reload starts it', async () => {
    expectExit(await corral(['disable', 'everything'], { root }), 0, 'disable');
    const m = JSON.parse(fs.readFileSync(path.join(root, 'servers/everything/manifest.json'), 'utf8'));
    assert.equal(m.enabled, false);
    expectExit(await corral(['reload'], { root }), 0, 'reload');
    await waitStatus(root, (s) => {
      const u = unitOf(s, 'everything');
      return !u || u.state === 'disabled';
    }, 'the disabled unit to stop and show as disabled');
    expectExit(await corral(['enable', 'everything'], { root }), 0, 'enable');
    expectExit(await corral(['reload'], { root }), 0, 'reload');
    await waitReady(root, ['everything']);
  });

  test('a second daemon on the same store is refused with 75', async () => {
    const r = await corral(['daemon'], { root, timeout: 30000 });
    assert.equal(r.code, 75, `second daemon: ${r.code} ${r.stderr}`);
    assert.match(r.stderr, /already running/);
    // The first one is unharmed.
    await waitReady(root, ['everything']);
  });

  test('SIGTERM stops the daemon with exit 0', async () => {
    const res = await daemon.stop();
    assert.deepEqual(res, { code: 0, signal: null }, daemon.output());
    daemon = null;
  });
});
