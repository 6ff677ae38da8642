// Issue 4, "What it must show": a hostile MCP server (tests/fixtures/hostile:
// server.mjs plus probe.c, compiled here with gcc) installed next to a victim
// server and run by the daemon in the native sandbox tries escapes through
// the gateway, and every one must be blocked.  A few attempts also run
// through `corral-sandbox --policy FILE -- CMD` alone.
//
// Every attempt is harmless when NOT blocked (see probe.c), because this
// suite runs as root on developer machines and in CI.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import {
  CORRAL, MOCK_SERVER, McpClient, REPO, SLOW, cleanupRoot, corral, expectExit, newRoot, processesUnder,
  resultText, run, sleep, socketPath, startDaemon, status, unitOf, waitFor, waitReady,
} from './lib.mjs';

const HOSTILE = path.join(REPO, 'tests/fixtures/hostile');
const SANDBOX_BIN = path.join(path.dirname(CORRAL), 'corral-sandbox');
const PIDS_LIMIT = 256; // the default policy (DESIGN.md manifest "sandbox")
const OTHER_UID = 4242; // owner of the setuid-other copy; not mapped in any sandbox
const results = new Map(); // name → the attempt's result, printed at the end

// Each must come back {"blocked": true}.  The bombs run last, on their own.
const ATTEMPTS = [
  // files of the host, of another server and of the daemon
  'read-shadow', 'read-victim-data', 'write-victim-data', 'read-store-manifests', 'read-daemon-log',
  'connect-control-socket', 'connect-gateway-socket',
  // writes outside the data dir
  'write-pkg', 'write-usr', 'write-etc', 'write-root', 'write-store',
  // processes and network of the host
  'host-processes', 'signal-daemon', 'signal-test-runner', 'connect-host-port', 'connect-host-abstract',
  // syscalls (probe.c)
  'mount', 'umount', 'unshare-user', 'unshare-mount', 'unshare-net', 'setns', 'ptrace-traceme',
  'ptrace-attach-pid1', 'process-vm-readv', 'process-vm-writev', 'keyctl', 'add-key', 'request-key', 'bpf',
  'init-module', 'finit-module', 'delete-module', 'setuid-root', 'setuid-other', 'mknod', 'chroot-escape',
  'pivot-root', 'proc-sys-hostname', 'proc-sys-core-pattern', 'proc-sysrq-trigger', 'proc-pressure',
  'open-by-handle-at',
  'socket-af-alg', 'socket-af-vsock', 'socket-af-packet', 'perf-event-open', 'userfaultfd', 'io-uring-setup',
  'reboot', 'swapon', 'kexec-load', 'kexec-file-load', 'cgroup-escape', 'host-devices', 'fd-leak', 'caps',
  'tmp-fill', 'sys-visible', 'host-cgroup-ns',
];
const BOMBS = ['fork-bomb', 'memory-bomb-probe', 'memory-bomb'];

/* Compiles probe.c to out (static when libc.a is there, so the sandbox needs
 * no more of /lib than node does). */
function compileProbe(out) {
  const src = path.join(HOSTILE, 'probe.c');
  const flags = ['-std=gnu11', '-O2', '-Wall', '-Wextra', '-Werror', '-o', out, src];
  try {
    execFileSync('gcc', ['-static', ...flags], { stdio: 'pipe' });
  } catch {
    execFileSync('gcc', flags, { stdio: 'pipe' });
  }
}

function listen(server, opts) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts, () => resolve(server));
  });
}

/* The attempt's result object from a tools/call result. */
function parseAttempt(res) {
  const obj = res?.structuredContent ?? JSON.parse(resultText(res));
  assert.equal(typeof obj?.blocked, 'boolean', `no "blocked" in ${JSON.stringify(res)}`);
  return obj;
}

/* cgroups the sandbox left behind for these server names: corral/NAME-PID
 * under this process's cgroup in every hierarchy (v1 and v2). */
function leftoverCgroups(names) {
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
      for (const e of entries) {
        if (names.some((n) => new RegExp(`^${n}-\\d+$`).test(e))) found.push(path.join(dir, e));
      }
    }
  }
  return found;
}

/* For waitFor: true, or throws naming what is left. */
function noCgroupsOf(names) {
  const left = leftoverCgroups(names);
  if (left.length) throw new Error(`cgroups left: ${left.join(', ')}`);
  return true;
}

/* Every attempt's outcome, whatever the assertions said: the report. */
after(() => {
  if (!results.size) return;
  const lines = [...results].map(([key, r]) =>
    `${r.blocked ? 'BLOCKED    ' : 'NOT BLOCKED'} ${key.padEnd(28)} ${r.errno ?? ''} ${r.detail}`);
  const n = [...results.values()].filter((r) => r.blocked).length;
  console.log(`escape attempts: ${n} of ${results.size} blocked\n${lines.join('\n')}`);
  if (process.env.CORRAL_ESCAPE_REPORT) {
    fs.writeFileSync(process.env.CORRAL_ESCAPE_REPORT, JSON.stringify(Object.fromEntries(results), null, 2));
  }
});

describe('sandbox escapes by a hostile server under the daemon', { timeout: 180000 }, () => {
  let root;
  let pkg;
  let victimPkg;
  let daemon;
  let client;
  let tcp;
  let abstract;
  const tcpConnections = [];
  const abstractConnections = [];

  before(async () => {
    root = newRoot('escape');
    pkg = `${root}-hostile-pkg`;
    fs.mkdirSync(pkg);
    fs.copyFileSync(path.join(HOSTILE, 'server.mjs'), path.join(pkg, 'server.mjs'));
    compileProbe(path.join(pkg, 'probe'));

    // The victim: the mock server, from a package of its own (a sandboxed
    // server sees its package, not this repository).
    victimPkg = `${root}-victim-pkg`;
    fs.mkdirSync(victimPkg);
    fs.copyFileSync(MOCK_SERVER, path.join(victimPkg, 'mock-server.mjs'));
    expectExit(await corral(['install', victimPkg, '--name', 'victim', '--yes', '--', 'node', 'mock-server.mjs', 'ok'],
      { root, timeout: 60000 }), 0, 'install victim');
    const victimData = path.join(root, 'data', 'victim');
    fs.mkdirSync(victimData, { recursive: true, mode: 0o700 });
    fs.writeFileSync(path.join(victimData, 'secret.txt'), 'the victim server\'s secret\n', { mode: 0o600 });

    // setuid copies of the probe in the hostile server's own data dir (its
    // HOME, bound read-write): one owned by root, one by an unmapped uid.
    const hostileData = path.join(root, 'data', 'hostile');
    fs.mkdirSync(hostileData, { recursive: true, mode: 0o700 });
    for (const [file, uid] of [['suid-root', 0], ['suid-other', OTHER_UID]]) {
      const p = path.join(hostileData, file);
      fs.copyFileSync(path.join(pkg, 'probe'), p);
      if (process.getuid() === 0) fs.chownSync(p, uid, uid);
      fs.chmodSync(p, 0o4755);
    }

    tcp = await listen(net.createServer((s) => { tcpConnections.push(Date.now()); s.destroy(); }),
      { host: '127.0.0.1', port: 0 });
    const abstractName = `corral-escape-${process.pid}-${Date.now()}`;
    abstract = await listen(net.createServer((s) => { abstractConnections.push(Date.now()); s.destroy(); }),
      { path: `\0${abstractName}` });

    daemon = await startDaemon(root);
    // Installed once the daemon runs, so that its pid can be in the manifest.
    const envs = {
      CORRAL_STORE: root,
      VICTIM_DATA: victimData,
      DAEMON_PID: String(daemon.pid),
      TEST_PID: String(process.pid),
      HOST_PORT: String(tcp.address().port),
      HOST_ABSTRACT: abstractName,
      PIDS_LIMIT: String(PIDS_LIMIT),
      HOST_CGROUPNS: fs.readlinkSync('/proc/self/ns/cgroup'),
    };
    const r = await corral(['install', pkg, '--name', 'hostile', '--yes',
      ...Object.entries(envs).flatMap(([k, v]) => ['--env', `${k}=${v}`]), '--', 'node', 'server.mjs'],
    { root, timeout: 60000 });
    expectExit(r, 0, 'install hostile');
    await corral(['reload'], { root, timeout: 30000 });
    await waitReady(root, ['victim', 'hostile']);
    client = await McpClient.connect(socketPath(root));
    await client.initialize();
    await client.waitTools((n) => n.includes('hostile__attempt'), 'the hostile server\'s tools');
  });

  after(async () => {
    if (client) await client.close();
    if (daemon) await daemon.stop().catch(() => daemon.kill());
    tcp?.close();
    abstract?.close();
    cleanupRoot(root);
    for (const d of [pkg, victimPkg]) if (d) fs.rmSync(d, { recursive: true, force: true });
  });

  async function attempt(name, timeout = 120000) {
    const res = await client.callTool('hostile__attempt', { name }, { timeout });
    assert.notEqual(res.isError, true, `attempt ${name} failed: ${resultText(res)}`);
    const r = parseAttempt(res);
    if (r.host_check) {
      // Created inside; an escape only if it landed on the host.
      const onHost = fs.existsSync(r.host_check);
      if (onHost) fs.rmSync(r.host_check, { force: true });
      r.blocked = !onHost;
      r.detail += onHost ? '; it is on the host' : '; it is not on the host (the sandbox\'s own /tmp)';
    }
    results.set(name, r);
    return r;
  }

  test('the server offers every attempt the test expects', async () => {
    const res = await client.callTool('hostile__list', {});
    const offered = res.structuredContent?.attempts ?? JSON.parse(resultText(res)).attempts;
    for (const name of [...ATTEMPTS, ...BOMBS]) assert.ok(offered.includes(name), `no attempt ${name}`);
    assert.ok(ATTEMPTS.length + BOMBS.length >= 25);
  });

  test('the server runs as the sandbox says (diagnostics)', async () => {
    const res = await client.callTool('hostile__info', {});
    console.log(`hostile server: ${resultText(res)}`);
  });

  for (const name of ATTEMPTS) {
    test(`blocked: ${name}`, async () => {
      const r = await attempt(name);
      assert.equal(r.blocked, true, `${name} was not blocked: ${r.errno ?? ''} ${r.detail}`);
      if (name === 'connect-host-port') assert.equal(tcpConnections.length, 0, 'the host port saw a connection');
      if (name === 'connect-host-abstract') {
        assert.equal(abstractConnections.length, 0, 'the host abstract socket saw a connection');
      }
    });
  }

  test('blocked: fork-bomb stops at the pids limit, and the server survives', async () => {
    const r = await attempt('fork-bomb');
    const forks = Number(/(\d+) forks succeeded/.exec(r.detail)?.[1]);
    assert.equal(r.blocked, true, `fork bomb not stopped: ${r.detail}`);
    assert.ok(forks < PIDS_LIMIT, `${forks} forks succeeded, limit ${PIDS_LIMIT}`);
    // The server still answers, and none of the bomb's children outlived it.
    const pong = await client.callTool('hostile__ping', {}, { timeout: 30000 });
    assert.equal(resultText(pong), 'pong');
    await waitFor(() => !fs.readdirSync('/proc').some((p) => {
      try {
        return /probe\0fork-bomb\0$/.test(fs.readFileSync(`/proc/${p}/cmdline`, 'utf8'));
      } catch {
        return false;
      }
    }), { timeout: 10000, what: 'the fork bomb\'s children to be gone' });
  });

  test('blocked: memory-bomb-probe (a child of the server) is OOM-killed', async () => {
    const r = await attempt('memory-bomb-probe');
    assert.equal(r.blocked, true, `memory bomb not stopped: ${r.detail}`);
    assert.match(r.detail, /killed by SIGKILL/);
    await waitReady(root, ['hostile']);
  });

  test('the victim\'s data on the host is untouched', () => {
    const dir = path.join(root, 'data', 'victim');
    // overlay/: the victim's own code overlay (its writes beside its code).
    assert.deepEqual(fs.readdirSync(dir).filter((e) => e !== 'overlay'), ['secret.txt']);
    assert.equal(fs.readFileSync(path.join(dir, 'secret.txt'), 'utf8'), 'the victim server\'s secret\n');
  });

  test('blocked: memory-bomb in the server itself is OOM-killed and corral status says so', async () => {
    const before = JSON.stringify(unitOf(await status(root), 'hostile'));
    let answer = null;
    client.start('tools/call', { name: 'hostile__attempt', arguments: { name: 'memory-bomb' } },
      { timeout: 120000 }).promise.then((res) => { answer = res; }, () => { /* the server died */ });
    // Not blocked: the call answers {blocked: false}.  Blocked: the server is
    // OOM-killed, and status says so.
    const deadline = Date.now() + 90000 * SLOW;
    let unit;
    for (;;) {
      if (answer) {
        const r = parseAttempt(answer);
        results.set('memory-bomb', r);
        assert.equal(r.blocked, true, `memory bomb not stopped: ${r.detail}`);
      }
      unit = unitOf(await status(root), 'hostile');
      // Not the oom_kills key itself: it is there (and may count the probe's
      // child killed earlier) before this server is.
      if (/\boom|out of memory/i.test(JSON.stringify({ ...unit, oom_kills: undefined }))) break;
      assert.ok(Date.now() < deadline, `corral status never reported an OOM kill of hostile: ${JSON.stringify(unit)}`);
      await sleep(250);
    }
    results.set('memory-bomb', { name: 'memory-bomb', blocked: true, errno: null,
      detail: `the server was OOM-killed; status: ${JSON.stringify(unit)}` });
    assert.notEqual(JSON.stringify(unit), before);
    assert.ok(unit.oom_kills > JSON.parse(before).oom_kills, `oom_kills did not grow: ${JSON.stringify(unit)}`);
    const human = await corral(['status'], { root, timeout: 20000 });
    assert.match(human.stdout, /\boom|out of memory/i, `plain corral status does not say OOM:\n${human.stdout}`);
    // The host is unaffected: the daemon and the victim server still serve.
    assert.ok(daemon.running(), 'the daemon died');
    await waitReady(root, ['victim']);
  });

  test('stopping the daemon leaves no server process and no cgroup behind', async () => {
    const r = await daemon.stop();
    daemon = null;
    assert.equal(r.code, 0, `daemon exit ${JSON.stringify(r)}`);
    await waitFor(() => processesUnder(root).length === 0,
      { timeout: 15000, what: 'every process of the store to be gone' });
    await waitFor(() => noCgroupsOf(['hostile', 'victim']), { timeout: 15000, what: 'the servers\' cgroups to go' });
  });
});

// corral-sandbox alone, as security teams run it (policy format:
// include/corral/sandbox.h).
describe('corral-sandbox --policy FILE -- CMD, alone', { timeout: 90000 }, () => {
  let dir;
  let policy;

  before(() => {
    assert.ok(fs.existsSync(SANDBOX_BIN), `${SANDBOX_BIN} is missing (issue 4: corral-sandbox)`);
    dir = newRoot('escape-alone');
    fs.mkdirSync(path.join(dir, 'pkg'));
    fs.mkdirSync(path.join(dir, 'data'));
    compileProbe(path.join(dir, 'pkg', 'probe'));
    fs.writeFileSync(path.join(dir, 'data', 'suid-root'), fs.readFileSync(path.join(dir, 'pkg', 'probe')));
    if (process.getuid() === 0) fs.chownSync(path.join(dir, 'data', 'suid-root'), 0, 0);
    fs.chmodSync(path.join(dir, 'data', 'suid-root'), 0o4755);
    policy = path.join(dir, 'policy.json');
    fs.writeFileSync(policy, JSON.stringify({
      name: 'escape-alone', profile: 'default', network: 'none',
      pkg: path.join(dir, 'pkg'), data: path.join(dir, 'data'),
      memory_mb: 512, pids: PIDS_LIMIT, cpus: 1.0,
      env: { HOME: path.join(dir, 'data'), PIDS_LIMIT: String(PIDS_LIMIT) },
    }));
  });

  after(() => cleanupRoot(dir));

  const sandboxed = (cmd, args) => run(SANDBOX_BIN, ['--policy', policy, '--', cmd, ...args], { timeout: 60000 });

  test('runs a command (the control for the tests below)', async () => {
    const r = await sandboxed(path.join(dir, 'pkg', 'probe'), ['whoami']);
    assert.equal(r.code, 0, `exit ${r.code}: ${r.stderr}`);
    const j = JSON.parse(r.stdout);
    assert.notEqual(j.host_euid, 0, `the command runs as host root: ${r.stdout}`);
  });

  test('cat /etc/shadow fails inside', async () => {
    const r = await sandboxed('/bin/cat', ['/etc/shadow']);
    assert.notEqual(r.code, 0, `cat /etc/shadow succeeded: ${r.stdout.slice(0, 80)}`);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /cat: .*shadow/, `cat did not run: ${r.stderr}`);
  });

  for (const name of ['mount', 'unshare-user', 'setns', 'ptrace-traceme', 'bpf', 'keyctl', 'mknod', 'chroot-escape',
    'caps', 'fd-leak', 'reboot', 'open-by-handle-at', 'setuid-root', 'host-devices', 'cgroup-escape', 'tmp-fill',
    'fork-bomb']) {
    test(`blocked alone: ${name}`, async () => {
      const r = await sandboxed(path.join(dir, 'pkg', 'probe'), [name]);
      let j;
      try {
        j = JSON.parse(r.stdout.trim().split('\n').pop());
      } catch {
        assert.fail(`the probe gave no result (exit ${r.code}): ${r.stdout}\n${r.stderr}`);
      }
      results.set(`alone:${name}`, j);
      assert.equal(j.blocked, true, `${name} was not blocked alone: ${j.errno ?? ''} ${j.detail}`);
    });
  }

  test('no cgroup is left behind', async () => {
    await waitFor(() => noCgroupsOf(['escape-alone']), { timeout: 10000, what: 'the cgroups to go' });
  });
});
