// README claims checked by their effect, not by their parsing: the seccomp
// profiles (strict narrower than default, log allowing and logging), the
// network policy, the CPU limit, `unconfined` in every listing, and the
// refusal of `corral serve` without --stdio.
//
// The sandbox claims run tests/fixtures/policy-probe.c (compiled here) under
// `corral-sandbox --policy FILE -- CMD`, the launcher the daemon execs, and
// look from inside.

import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import {
  CORRAL, EX, MOCK_SERVER, REPO, cleanupRoot, corral, emptyPkg, expectExit, expectOneLineError,
  newRoot, run, sleep, startDaemon, waitFor, waitReady,
} from './lib.mjs';

const SANDBOX_BIN = path.join(path.dirname(CORRAL), 'corral-sandbox');

/* Compiles the probe (static when libc.a is there, so the sandbox needs no
 * more of /lib than node does). */
function compileProbe(out) {
  const src = path.join(REPO, 'tests/fixtures/policy-probe.c');
  const flags = ['-std=gnu11', '-O2', '-Wall', '-Wextra', '-Werror', '-pthread', '-o', out, src];
  try {
    execFileSync('gcc', ['-static', ...flags], { stdio: 'pipe' });
  } catch {
    execFileSync('gcc', flags, { stdio: 'pipe' });
  }
}

/* The cgroup directories named NAME-PID that corral-sandbox made for name
 * under this process's cgroups (v1 hierarchies and v2). */
function cgroupDirs(name) {
  const found = [];
  let lines = [];
  try { lines = fs.readFileSync('/proc/self/cgroup', 'utf8').trim().split('\n'); } catch { return found; }
  for (const line of lines) {
    const [, controllers, rel] = line.split(':');
    const bases = controllers === ''
      ? ['/sys/fs/cgroup', '/sys/fs/cgroup/unified']
      : controllers.split(',').map((c) => `/sys/fs/cgroup/${c.replace(/^name=/, '')}`);
    for (const base of bases) {
      const dir = path.join(base, rel, 'corral');
      let entries = [];
      try { entries = fs.readdirSync(dir); } catch { continue; }
      for (const e of entries) if (new RegExp(`^${name}-\\d+$`).test(e)) found.push(path.join(dir, e));
    }
  }
  return found;
}

/* The CPU limit a cgroup directory sets, in CPUs (null: none or no file). */
function cpuLimit(dir) {
  const read = (f) => { try { return fs.readFileSync(path.join(dir, f), 'utf8').trim(); } catch { return null; } };
  const max = read('cpu.max');
  if (max !== null) {
    const [q, p] = max.split(' ');
    return q === 'max' ? null : Number(q) / Number(p);
  }
  const quota = read('cpu.cfs_quota_us');
  const period = read('cpu.cfs_period_us');
  if (quota === null || period === null || Number(quota) < 0) return null;
  return Number(quota) / Number(period);
}

describe('sandbox policy, observed from inside', { timeout: 240000 }, () => {
  let dir;
  let probe;
  let n = 0;

  before(() => {
    assert.ok(fs.existsSync(SANDBOX_BIN), `${SANDBOX_BIN} is missing`);
    dir = newRoot('claims');
    fs.mkdirSync(path.join(dir, 'pkg'));
    fs.mkdirSync(path.join(dir, 'data'));
    probe = path.join(dir, 'pkg', 'policy-probe');
    compileProbe(probe);
  });

  after(() => cleanupRoot(dir));

  /* Writes a policy (defaults plus fields) and returns the corral-sandbox
   * argv prefix for it. */
  function policyArgs(name, fields) {
    const file = path.join(dir, `policy-${n++}.json`);
    fs.writeFileSync(file, JSON.stringify({
      name, pkg: path.join(dir, 'pkg'), data: path.join(dir, 'data'), ...fields,
    }));
    return ['--policy', file, '--'];
  }

  /* Runs the probe under a policy; its JSON line. */
  async function probeUnder(fields, args, name = 'claims') {
    const r = await run(SANDBOX_BIN, [...policyArgs(name, fields), probe, ...args], { timeout: 60000 });
    assert.equal(r.code, 0, `probe ${args.join(' ')} under ${JSON.stringify(fields)}: exit ${r.code}\n${r.stderr}`);
    try {
      return JSON.parse(r.stdout.trim().split('\n').pop());
    } catch {
      throw new Error(`probe gave no JSON: ${r.stdout}\n${r.stderr}`);
    }
  }

  test('strict denies what default allows: socket(AF_INET)', async () => {
    const dflt = await probeUnder({ profile: 'default' }, ['socket-inet']);
    assert.equal(dflt.ok, true, `default denied an inet socket: ${JSON.stringify(dflt)}`);
    const strict = await probeUnder({ profile: 'strict' }, ['socket-inet']);
    assert.equal(strict.ok, false, 'strict allowed an inet socket');
    assert.equal(strict.errno, 'EPERM');
  });

  test('log allows a call default denies, and the kernel logs it (audit type=1326)', async () => {
    const dflt = await probeUnder({ profile: 'default' }, ['personality']);
    assert.equal(dflt.ok, false, 'default allowed personality(ADDR_NO_RANDOMIZE)');
    assert.equal(dflt.errno, 'EPERM');
    // The kernel's record names the executable (a path unique to this run)
    // and SECCOMP_RET_LOG.  printk may rate-limit: try a few times.
    const logged = (text) => text.split('\n').find((l) => l.includes('type=1326') &&
      l.includes(`exe="${probe}"`) && /code=0x7ffc0000/.test(l));
    let line;
    for (let i = 0; i < 5 && !line; i++) {
      const lg = await probeUnder({ profile: 'log' }, ['personality']);
      assert.equal(lg.ok, true, `log denied personality: ${JSON.stringify(lg)}`);
      await sleep(200);
      line = logged((await run('dmesg', [])).stdout);
    }
    assert.ok(line, `no audit record of the logged call from ${probe} in dmesg`);
    assert.match(line, /syscall=135\b/, `not the personality call: ${line}`);
  });

  test('network host reaches a loopback listener of the host; none cannot', async () => {
    const server = net.createServer((s) => s.end('corral-claims-hello\n'));
    await new Promise((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address();
    try {
      const none = await probeUnder({ network: 'none' }, ['connect', String(port)]);
      assert.equal(none.ok, false, `network none reached the host's listener: ${JSON.stringify(none)}`);
      assert.equal(none.errno, 'ECONNREFUSED', 'none: its own loopback, where nothing listens');
      const host = await probeUnder({ network: 'host' }, ['connect', String(port)]);
      assert.equal(host.ok, true, `network host could not connect: ${JSON.stringify(host)}`);
      assert.equal(host.detail, 'corral-claims-hello');
    } finally {
      server.close();
    }
  });

  // Shares are CPU time over wall time of busy threads (getrusage inside).
  // The bounds are generous: a loaded machine gives less, never more.
  test('the cpus limit holds busy threads to their share', async () => {
    const limited = await probeUnder({ cpus: 0.05 }, ['spin', '2', '2000']);
    const free = await probeUnder({ cpus: 0 }, ['spin', '2', '2000']);
    const share = (r) => r.cpu_ms / r.wall_ms;
    const msg = `cpus 0.05: ${share(limited).toFixed(3)} CPU; no limit: ${share(free).toFixed(3)} CPU`;
    assert.ok(share(limited) <= 0.12, `the limit did not hold: ${msg}`);
    assert.ok(share(free) >= 0.15 && share(free) >= 2 * share(limited),
      `without a limit the probe did not get more (is the machine saturated?): ${msg}`);
  });

  test('the default policy sets 1 CPU in the cgroup, and three busy threads stay within it', async () => {
    // No "cpus" key: the default (1.0) applies.
    const child = spawn(SANDBOX_BIN, [...policyArgs('claimscpu', {}), probe, 'spin', '3', '3000'],
      { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    const exited = new Promise((r) => child.on('close', r));
    try {
      const limit = await waitFor(() => {
        const lims = cgroupDirs('claimscpu').map(cpuLimit).filter((x) => x !== null);
        return lims.length ? lims : null;
      }, { timeout: 10000, interval: 50, what: 'the sandbox\'s cpu cgroup' });
      assert.deepEqual(limit, [1], `cpu limits in the cgroup: ${limit}`);
    } finally {
      const code = await exited;
      assert.equal(code, 0, err);
    }
    const r = JSON.parse(out.trim());
    const share = r.cpu_ms / r.wall_ms;
    assert.ok(share <= 1.3, `three busy threads got ${share.toFixed(2)} CPU under a 1 CPU limit`);
  });
});

describe('listings and refusals', { timeout: 240000 }, () => {
  let root;
  let daemon;

  before(async () => {
    root = newRoot('claims-list');
    for (const [name, extra] of [['bare', ['--sandbox', 'none']], ['boxed', []]]) {
      const r = await corral(['install', emptyPkg(root, name), '--name', name, '--yes', ...extra, '--',
        process.execPath, MOCK_SERVER, 'ok'], { root });
      expectExit(r, 0, `install ${name}`);
    }
  });

  after(async () => {
    if (daemon) await daemon.kill();
    cleanupRoot(root);
  });

  const lineOf = (text, name) => text.split('\n').find((l) => new RegExp(`^${name}\\b`).test(l.trim())) ?? '';

  test('--sandbox none shows as unconfined in list, info and status', async () => {
    const list = expectExit(await corral(['list'], { root }), 0, 'list');
    assert.match(lineOf(list.stdout, 'bare'), /unconfined/, `list:\n${list.stdout}`);
    assert.doesNotMatch(lineOf(list.stdout, 'boxed'), /unconfined/, `list:\n${list.stdout}`);
    const info = expectExit(await corral(['info', 'bare'], { root }), 0, 'info bare');
    assert.match(info.stdout, /unconfined/, `info:\n${info.stdout}`);
    const infoBoxed = expectExit(await corral(['info', 'boxed'], { root }), 0, 'info boxed');
    assert.doesNotMatch(infoBoxed.stdout, /unconfined/, `info:\n${infoBoxed.stdout}`);
    daemon = await startDaemon(root);
    await waitReady(root, ['bare', 'boxed']);
    const st = expectExit(await corral(['status'], { root }), 0, 'status');
    assert.match(lineOf(st.stdout, 'bare'), /unconfined/, `status:\n${st.stdout}`);
    assert.doesNotMatch(lineOf(st.stdout, 'boxed'), /unconfined/, `status:\n${st.stdout}`);
  });

  test('corral serve without --stdio says why it refuses', async () => {
    const r = await corral(['serve'], { root });
    expectExit(r, EX.USAGE, 'serve');
    expectOneLineError(r, ['--stdio', /HTTP endpoint is not built yet/], 'serve', { usageHint: true });
  });
});
