/* The rough edges a newcomer hits (issue 18): `corral help`, one
 * confirmation line per state-changing verb and --quiet, `call --timeout`
 * exiting 75, progress on a TTY, an install answered "no" exiting 1, status
 * without stale crash data after a fixing reinstall or an admin restart,
 * `disabled` as a state, README and --help listing the same verbs and
 * options, and a daemon that stops 20 servers in parallel, one line each. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import {
  CORRAL, EX, MOCK_SERVER, REPO, cleanupRoot, corral, corralEnv, emptyPkg, expectExit, installMock,
  newRoot, onTty, run, startDaemon, unitOf, waitReady, waitStatus,
} from './lib.mjs';

const helpText = async (args) => expectExit(await corral(args), 0, args.join(' ')).stdout;

/* The verbs `corral --help` lists. */
async function helpVerbs() {
  const out = await helpText(['--help']);
  const block = out.split('\nVerbs:\n')[1].split('\n\n')[0];
  return block.split('\n').map((l) => l.trim().split(/\s+/)[0]).filter(Boolean);
}

/* The synopsis of `corral VERB --help`: its first line and the indented
 * continuation lines (the description below is indented by two). */
function synopsis(text) {
  const lines = text.split('\n');
  const out = [lines[0]];
  for (const l of lines.slice(1)) {
    if (!/^ {4,}\S/.test(l)) break;
    out.push(l);
  }
  return out.join(' ');
}

const options = (text) => new Set((text.match(/--[a-z][a-z-]*/g) || []).filter((o) => o !== '--help'));

describe('help and the README agree', () => {
  it('corral help [VERB]', async () => {
    const all = await helpText(['help']);
    assert.equal(all, await helpText(['--help']));
    const one = await helpText(['help', 'install']);
    assert.match(one, /Usage: corral install .*--mount/s);
    assert.match(one, /--dry-run/);
    assert.match(one, /--remote/);
    const r = await corral(['help', 'nosuch']);
    expectExit(r, EX.USAGE, 'help of an unknown verb');
  });

  it('README lists the same verbs and options as --help', async () => {
    const readme = fs.readFileSync(path.join(REPO, 'README.md'), 'utf8');
    const ref = readme.split('\n## Command reference\n')[1]?.split('\n## ')[0];
    assert.ok(ref, 'README has a "Command reference" section');
    const documented = [...ref.matchAll(/^\| `corral ([a-z]+)/gm)].map((m) => m[1]);
    const verbs = await helpVerbs();
    assert.deepEqual([...documented].sort(), [...verbs].sort(), 'the same verbs');
    for (const v of verbs) {
      const row = ref.split('\n').find((l) => l.startsWith(`| \`corral ${v}`));
      const want = options(synopsis(await helpText([v, '--help'])));
      const have = options(row);
      assert.deepEqual([...have].sort(), [...want].sort(), `options of ${v}`);
    }
    const globalHave = options(ref.split('\n').find((l) => l.startsWith('Global options:')) || '');
    const globalWant = options((await helpText(['--help'])).split('\nGlobal options:\n')[1].split('\n\n')[0]);
    assert.deepEqual([...globalHave].sort(), [...globalWant].sort(), 'global options');
    for (const code of ['0', '1', '64', '65', '66', '69', '70', '71', '73', '75', '77', '78']) {
      assert.match(ref, new RegExp(`\\| ${code} \\|`), `README lists exit code ${code}`);
    }
  });
});

describe('a newcomer\'s walk', { timeout: 600000 }, () => {
  let root, daemon;

  before(async () => {
    root = newRoot('firstrun');
    await installMock(root, 'mock');
    daemon = await startDaemon(root);
    await waitReady(root, ['mock']);
  });

  after(async () => {
    if (daemon) await daemon.kill();
    cleanupRoot(root);
  });

  it('stop, start and restart say what they did; --quiet does not', async () => {
    for (const [verb, word] of [['stop', 'stopped'], ['start', 'started'], ['restart', 'restarted']]) {
      const r = expectExit(await corral([verb, 'mock'], { root }), 0, verb);
      assert.equal(r.stdout, `${word} mock\n`);
      if (verb === 'stop') await waitStatus(root, (s) => unitOf(s, 'mock')?.state === 'stopped', 'stopped');
      else await waitReady(root, ['mock']);
    }
    const q = expectExit(await corral(['restart', '--quiet', 'mock'], { root }), 0, 'restart --quiet');
    assert.equal(q.stdout, '');
    const q2 = expectExit(await corral(['--quiet', 'disable', 'mock'], { root }), 0, '--quiet disable');
    assert.equal(q2.stdout, '');
    expectExit(await corral(['enable', '-q', 'mock'], { root }), 0, 'enable -q');
    await waitReady(root, ['mock']);
  });

  it('disabled is a state of its own', async () => {
    expectExit(await corral(['disable', 'mock'], { root }), 0, 'disable');
    expectExit(await corral(['reload'], { root }), 0, 'reload');
    await waitStatus(root, (s) => unitOf(s, 'mock')?.state === 'disabled', 'mock disabled');
    const st = await corral(['status'], { root });
    assert.match(st.stdout, /mock\s+disabled/);
    expectExit(await corral(['enable', 'mock'], { root }), 0, 'enable');
    expectExit(await corral(['reload'], { root }), 0, 'reload');
    await waitReady(root, ['mock']);
  });

  it('call --timeout exits 75; progress shows on a TTY', async () => {
    const r = await corral(['call', '--timeout', '1', 'mock__sleep', 'ms=8000'], { root, timeout: 30000 });
    expectExit(r, EX.TEMPFAIL, 'call past its --timeout');
    assert.match(r.stderr, /timed out/);
    const t = await onTty(['call', 'mock__sleep', 'ms=700'], { root });
    expectExit(t, 0, 'call on a TTY');
    assert.match(t.stdout, /progress \d+/, 'progress notifications on the TTY');
    assert.match(t.stdout, /slept 700 ms/);
    const plain = await corral(['call', 'mock__sleep', 'ms=300'], { root });
    assert.doesNotMatch(plain.stderr, /progress/, 'no progress off a TTY');
  });

  it('an install answered "no" exits 1 and installs nothing', async () => {
    const r = await onTty(['install', emptyPkg(root, 'declined'), '--name', 'declined', '--',
      process.execPath, MOCK_SERVER], { root, input: 'n\n' });
    assert.equal(r.code, 1, `answered no: ${r.code} ${r.stdout}`);
    assert.match(r.stdout, /cancelled/);
    assert.equal(fs.existsSync(path.join(root, 'servers', 'declined')), false);
  });

  it('status after a fixing reinstall or an admin restart shows no stale crash data', async () => {
    await installMock(root, 'flaky', 'exit');
    expectExit(await corral(['reload'], { root }), 0, 'reload');
    let st = await waitStatus(root, (s) => unitOf(s, 'flaky')?.state === 'failed', 'flaky to fail', 90000);
    assert.ok(unitOf(st, 'flaky').restarts > 0);
    assert.match(unitOf(st, 'flaky').last_error, /crash loop/);
    // Fixed: the same name reinstalled with a working server.
    const r = await corral(['install', emptyPkg(root, 'mock-flaky-fixed'), '--name', 'flaky', '--yes',
      '--force', '--', process.execPath, MOCK_SERVER, 'ok'], { root });
    expectExit(r, 0, 'reinstall --force');
    st = await waitReady(root, ['flaky']);
    assert.equal(unitOf(st, 'flaky').restarts, 0, 'restarts after the reinstall');
    assert.equal(unitOf(st, 'flaky').last_error, null, 'last_error after the reinstall');
    // An admin restart of a unit that crashed once clears it too.
    const c = await corral(['call', 'flaky__crash'], { root });
    assert.notEqual(c.code, 0);
    st = await waitStatus(root, (s) => unitOf(s, 'flaky')?.state === 'ready' && unitOf(s, 'flaky').restarts === 1,
      'flaky to come back after its crash');
    assert.ok(unitOf(st, 'flaky').last_error);
    expectExit(await corral(['restart', 'flaky'], { root }), 0, 'restart');
    st = await waitStatus(root, (s) => unitOf(s, 'flaky')?.state === 'ready' && unitOf(s, 'flaky').restarts === 0,
      'flaky restarted by the admin');
    assert.equal(unitOf(st, 'flaky').last_error, null);
  });
});

describe('daemon shutdown', { timeout: 600000 }, () => {
  let root, daemon;
  const N = 20;

  before(async () => {
    root = newRoot('shutdown');
    const pkg = emptyPkg(root, 'mocks');
    for (let i = 0; i < N; i++) {
      const r = await corral(['install', pkg, '--name', `idle${i}`, '--yes', '--quiet', '--',
        process.execPath, MOCK_SERVER], { root });
      expectExit(r, 0, `install idle${i}`);
      assert.equal(r.stdout, '', '--quiet install');
    }
    daemon = await startDaemon(root);
    await waitReady(root, Array.from({ length: N }, (_, i) => `idle${i}`), 180000);
  });

  after(async () => {
    if (daemon) await daemon.kill();
    cleanupRoot(root);
  });

  it('stops every server in parallel, one line each, none killed', async () => {
    const res = await daemon.stop();
    assert.deepEqual(res, { code: 0, signal: null }, daemon.output());
    const lines = daemon.output().split('\n').filter((l) => /: stopped in \d+ ms/.test(l));
    assert.equal(lines.length, N, daemon.output());
    for (let i = 0; i < N; i++) assert.ok(lines.some((l) => l.includes(`idle${i}: stopped`)), `idle${i}`);
    assert.deepEqual(lines.filter((l) => /SIGKILL/.test(l)), [], 'no server needed SIGKILL');
    daemon = null;
  });
});
