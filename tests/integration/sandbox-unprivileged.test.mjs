/* corral-sandbox, the native backend and `corral run` as an unprivileged
 * user (issue 4): user namespaces map the caller's own uid, the same
 * confinement applies (no capabilities, no_new_privs, seccomp, loopback-only
 * network, no host secrets), and the cgroup limits that such a user cannot
 * set (no delegated cgroup) are announced by one warning line on stderr.
 *
 * Runs as root and switches to `nobody` with setpriv(1); skipped (with the
 * sysctl to look at) where the kernel forbids unprivileged user namespaces.
 * Everything the unprivileged processes touch lives in one temp dir open to
 * them: copies of the binaries (build/ need not be readable by nobody), the
 * store root, and their sanitizer reports (the run-wide report dir is not
 * theirs to write: reports are copied there at the end). */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import {
  CORRAL, FIXTURES, McpClient, SANITIZE, corral, corralEnv, descendants, expectExit, pidAlive,
  processesUnder, resultText, run, sleep, waitFor, withTimeout,
} from './lib.mjs';

const NOBODY = 65534;
const SETPRIV = ['--reuid', String(NOBODY), '--regid', String(NOBODY), '--clear-groups'];

/* Why the test cannot run here, or null. */
function skipReason() {
  if (process.getuid() !== 0) return 'needs root (to switch to the unprivileged user nobody)';
  if (spawnSync('setpriv', ['--version']).status !== 0) return 'setpriv(1) (util-linux) not installed';
  const read = (f) => { try { return fs.readFileSync(f, 'utf8').trim(); } catch { return null; } };
  if (read('/proc/sys/kernel/unprivileged_userns_clone') === '0') {
    return 'unprivileged user namespaces disabled: sysctl kernel.unprivileged_userns_clone=0';
  }
  if (read('/proc/sys/user/max_user_namespaces') === '0') {
    return 'user namespaces disabled: sysctl user.max_user_namespaces=0';
  }
  const r = spawnSync('setpriv', [...SETPRIV, 'unshare', '--user', '--map-root-user', 'true'],
    { encoding: 'utf8' });
  if (r.status !== 0) {
    const aa = read('/proc/sys/kernel/apparmor_restrict_unprivileged_userns');
    return `the kernel forbids unprivileged user namespaces (unshare -U as nobody: ${(r.stderr || '').trim()}); ` +
      `see sysctls kernel.unprivileged_userns_clone, user.max_user_namespaces` +
      (aa === '1' ? ', kernel.apparmor_restrict_unprivileged_userns=1' : '');
  }
  return null;
}
const SKIP = skipReason();

/* The run-wide sanitizer report dir of scripts/run-integration, or null. */
function runReportDir() {
  const m = /(?:^|:)log_path=([^:]+)/.exec(process.env.ASAN_OPTIONS || '');
  return m ? path.dirname(m[1]) : null;
}

/* The shared temp dir: open to nobody, holding the binaries, the policy and
 * the processes' sanitizer reports. */
function makeWorkDir() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-unpriv-'));
  fs.chmodSync(dir, 0o755);
  const bin = path.join(dir, 'bin');
  fs.mkdirSync(bin, { mode: 0o755 });
  for (const b of ['corral', 'corral-sandbox']) {
    fs.copyFileSync(path.join(path.dirname(CORRAL), b), path.join(bin, b));
    fs.chmodSync(path.join(bin, b), 0o755);
  }
  const reports = path.join(dir, 'sanitizer');
  fs.mkdirSync(reports);
  const home = path.join(dir, 'home');
  fs.mkdirSync(home);
  for (const d of [reports, home]) fs.chownSync(d, NOBODY, NOBODY);
  return { dir, bin, reports, home };
}

/* The environment of nobody's processes: sanitizer reports into w.reports. */
function nobodyEnv(w, extra = {}) {
  const env = corralEnv({ HOME: w.home, USER: 'nobody', LOGNAME: 'nobody', ...extra });
  if (SANITIZE) {
    env.ASAN_OPTIONS = `log_path=${path.join(w.reports, 'asan')}:detect_leaks=1`;
    env.UBSAN_OPTIONS = `log_path=${path.join(w.reports, 'ubsan')}:print_stacktrace=1`;
  }
  return env;
}

/* Fails on any sanitizer report of nobody's processes, after copying it to
 * the run's report dir (so scripts/run-integration counts it too). */
function checkReports(w) {
  const found = fs.readdirSync(w.reports);
  const dest = runReportDir();
  if (dest && fs.existsSync(dest)) {
    for (const f of found) fs.copyFileSync(path.join(w.reports, f), path.join(dest, `unpriv-${f}`));
  }
  assert.deepEqual(found, [], found.map((f) => fs.readFileSync(path.join(w.reports, f), 'utf8')).join('\n'));
}

/* Kills what still runs from w (a failed test's daemon or servers) and
 * removes it. */
function cleanupWork(w, extraPids = []) {
  if (!w) return;
  for (const p of [...extraPids, ...processesUnder(w.dir).map((x) => x.pid)]) {
    try { process.kill(p, 'SIGKILL'); } catch { /* gone */ }
  }
  fs.rmSync(w.dir, { recursive: true, force: true });
}

/* Runs CMD ARGS as nobody. */
function asNobody(w, cmd, args, opts = {}) {
  return run('setpriv', [...SETPRIV, '--', cmd, ...args], { env: nobodyEnv(w), cwd: w.dir, ...opts });
}

const cgroupWarning = (stderr) => stderr.split('\n').filter((l) => /cgroup/.test(l));

describe('corral-sandbox as an unprivileged user', { skip: SKIP ?? false }, () => {
  let w, listener, port, connections = 0;

  before(async () => {
    w = makeWorkDir();
    for (const d of ['pkg', 'data']) {
      fs.mkdirSync(path.join(w.dir, d), { mode: 0o755 });
      fs.chownSync(path.join(w.dir, d), NOBODY, NOBODY);
    }
    fs.writeFileSync(path.join(w.dir, 'pkg', 'hello'), 'from the package\n');
    fs.chmodSync(path.join(w.dir, 'pkg', 'hello'), 0o644);
    fs.writeFileSync(path.join(w.dir, 'policy.json'), JSON.stringify({
      // code readonly: this checks the read-only bind (the default overlay is
      // code-overlay.test.mjs's).
      name: 'unpriv', pkg: path.join(w.dir, 'pkg'), data: path.join(w.dir, 'data'), code: 'readonly',
      env: { HOME: path.join(w.dir, 'data') },
    }));
    fs.chmodSync(path.join(w.dir, 'policy.json'), 0o644);
    // A port on the host's loopback that the sandbox must not reach.
    listener = net.createServer((s) => { connections++; s.destroy(); });
    await new Promise((resolve) => listener.listen(0, '127.0.0.1', resolve));
    port = listener.address().port;
  });

  after(() => {
    listener?.close();
    cleanupWork(w);
  });

  it('confines the command and exits with its status', async () => {
    const script = [
      'id -u; id -g',
      'grep -E "^(Uid|Gid|CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):" /proc/self/status',
      'cat /etc/shadow >/dev/null 2>&1 && echo shadow=readable || echo shadow=unreadable',
      'echo "ifaces=$(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " " | tr "\\n" ,)"',
      `(exec 3<>/dev/tcp/127.0.0.1/${port}) 2>/dev/null && echo hostport=reached || echo hostport=refused`,
      'cat "$HOME/../pkg/hello"',
      'echo written > "$HOME/out" && echo data=writable',
      '{ echo x > "$HOME/../pkg/x"; } 2>/dev/null && echo pkg=writable || echo pkg=readonly',
      'exit 3',
    ].join('\n');
    const r = await asNobody(w, path.join(w.bin, 'corral-sandbox'),
      ['--policy', path.join(w.dir, 'policy.json'), '--', '/bin/bash', '-c', script], { timeout: 30000 });
    const out = r.stdout;
    assert.equal(r.code, 3, `exit status is the command's\n${out}\n${r.stderr}`);
    const lines = out.split('\n');
    assert.deepEqual(lines.slice(0, 2), ['1000', '1000'], out);
    const field = (k) => new RegExp(`^${k}:\\s*(.*)$`, 'm').exec(out)?.[1]?.trim();
    assert.match(out, /^Uid:\s+1000\s+1000\s+1000\s+1000$/m);
    for (const k of ['CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb']) {
      assert.equal(field(k), '0000000000000000', `${k}\n${out}`);
    }
    assert.equal(field('NoNewPrivs'), '1', out);
    assert.equal(field('Seccomp'), '2', out);
    assert.match(out, /^shadow=unreadable$/m);
    assert.match(out, /^ifaces=lo,$/m, 'only loopback in the sandbox');
    assert.match(out, /^hostport=refused$/m);
    assert.equal(connections, 0, 'the host port saw a connection');
    assert.match(out, /^from the package$/m);
    assert.match(out, /^data=writable$/m);
    assert.match(out, /^pkg=readonly$/m);
    // Outside, the data written inside belongs to the caller: its own uid is
    // the only one mapped.
    const st = fs.statSync(path.join(w.dir, 'data', 'out'));
    assert.equal(st.uid, NOBODY);
    assert.equal(st.gid, NOBODY);
    // One clear line about the cgroup limits not applied, nothing else.
    const warn = cgroupWarning(r.stderr);
    assert.equal(warn.length, 1, `one cgroup warning line expected:\n${r.stderr}`);
    assert.match(warn[0], /^corral-sandbox: warning: cgroup limits not applied \(memory, pids, cpu\): no cgroup delegated to uid 65534 /);
    assert.deepEqual(r.stderr.split('\n').filter((l) => l && !/cgroup/.test(l)), [], r.stderr);
    checkReports(w);
  });

  it('fails clearly on a policy path the user cannot open', async () => {
    fs.mkdirSync(path.join(w.dir, 'secret'), { mode: 0o700 });
    fs.writeFileSync(path.join(w.dir, 'bad.json'), JSON.stringify({
      name: 'unpriv', data: path.join(w.dir, 'secret'), memory_mb: 0, pids: 0, cpus: 0,
    }));
    fs.chmodSync(path.join(w.dir, 'bad.json'), 0o644);
    const r = await asNobody(w, path.join(w.bin, 'corral-sandbox'),
      ['--policy', path.join(w.dir, 'bad.json'), '--', '/bin/true'], { timeout: 30000 });
    // Opening the data dir as nobody fails; the launcher reports it and never
    // runs the command with a missing bind.
    assert.notEqual(r.code, 0, r.stderr);
    assert.match(r.stderr, /corral-sandbox: .*secret/);
    assert.equal(cgroupWarning(r.stderr).length, 0, 'no limits asked, no warning');
    checkReports(w);
  });
});

describe('the daemon and corral run as an unprivileged user', { skip: SKIP ?? false }, () => {
  let w, root, daemon, daemonExit, output = '';

  /* corral --root ROOT ARGS as nobody. */
  const nc = (args, opts = {}) => asNobody(w, path.join(w.bin, 'corral'), ['--root', root, ...args],
    { timeout: 30000, ...opts });

  before(async () => {
    w = makeWorkDir();
    root = path.join(w.dir, 'root');
    // The fixture dir may be private to root: install as root, then hand the
    // whole store to nobody.
    const r = await corral(['install', path.join(FIXTURES, 'everything'), '--name', 'everything', '--yes'],
      { root, timeout: 120000 });
    expectExit(r, 0, 'install everything');
    fs.chownSync(root, NOBODY, NOBODY);
    for (const rel of fs.readdirSync(root, { recursive: true })) {
      fs.lchownSync(path.join(root, rel), NOBODY, NOBODY);
    }
  });

  after(async () => {
    const left = daemon ? [daemon.pid, ...descendants(daemon.pid)] : [];
    if (daemon && daemonExit === null) {
      daemon.kill('SIGTERM');
      await withTimeout(daemon.exitPromise, 20000, 'the daemon to exit').catch(() => {});
    }
    cleanupWork(w, left);
  });

  it('reaches ready and answers tools, confined, with the cgroup warning in the log', async () => {
    daemon = spawn('setpriv', [...SETPRIV, '--', path.join(w.bin, 'corral'), '--root', root, 'daemon'],
      { env: nobodyEnv(w), cwd: w.dir, stdio: ['ignore', 'pipe', 'pipe'] });
    daemonExit = null;
    daemon.exitPromise = new Promise((resolve) => daemon.on('exit', (code, signal) => {
      daemonExit = { code, signal };
      resolve(daemonExit);
    }));
    daemon.stdout.on('data', (d) => { output += d; });
    daemon.stderr.on('data', (d) => { output += d; });
    let last = '';
    const st = await waitFor(async () => {
      if (daemonExit) throw Object.assign(new Error(`daemon exited: ${JSON.stringify(daemonExit)}\n${output}`), { fatal: true });
      const s = await nc(['status', '--json']);
      if (s.code !== 0) return null;
      last = s.stdout;
      const j = JSON.parse(s.stdout);
      const u = (j.units || []).find((x) => x.name === 'everything');
      return u?.state === 'ready' ? j : null;
    }, { timeout: 45000, what: `everything to be ready (last status ${last})` });
    const u = st.units.find((x) => x.name === 'everything');
    assert.equal(u.backend, 'native');
    assert.equal(u.sandbox, 'default');
    assert.equal(u.confined, true);

    const call = await nc(['call', 'everything__echo', 'message=unprivileged']);
    expectExit(call, 0, 'call everything__echo');
    assert.match(call.stdout, /Echo: unprivileged/);

    // Every process of the daemon's tree is nobody's on the host.
    const tree = [daemon.pid, ...descendants(daemon.pid)];
    assert.ok(tree.length >= 4, `daemon, launcher, init and server expected: ${tree}`);
    for (const p of tree) {
      const status = fs.readFileSync(`/proc/${p}/status`, 'utf8');
      assert.match(status, /^Uid:\s+65534\s+65534\s+65534\s+65534$/m, `pid ${p}`);
    }
    const log = fs.readFileSync(path.join(root, 'log', 'everything.log'), 'utf8');
    assert.equal(cgroupWarning(log).length, 1, log);
    assert.match(log, /corral-sandbox: warning: cgroup limits not applied \(memory, pids, cpu\)/);

    daemon.kill('SIGTERM');
    const ex = await withTimeout(daemon.exitPromise, 30000, 'the daemon to exit on SIGTERM');
    assert.equal(ex.code, 0, output);
    await waitFor(() => tree.every((p) => !pidAlive(p)), { timeout: 10000, what: 'the server processes to go' });
    checkReports(w);
  });

  it('corral run serves the server on stdio', async () => {
    const c = new McpClient('corral run everything (nobody)');
    const child = spawn('setpriv', [...SETPRIV, '--', path.join(w.bin, 'corral'), '--root', root, 'run', 'everything'],
      { env: nobodyEnv(w), cwd: w.dir, stdio: ['pipe', 'pipe', 'pipe'] });
    c.child = child;
    c.exit = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
    child.stderr.on('data', (d) => { c.stderr += d; });
    child.stdin.on('error', () => {});
    c._attach(child.stdout, child.stdin);
    try {
      await c.initialize();
      const res = await c.callTool('echo', { message: 'over stdio' });
      assert.match(resultText(res), /Echo: over stdio/);
      const tree = [child.pid, ...descendants(child.pid)];
      // corral run execs the launcher: launcher, init and server.
      assert.ok(tree.length >= 3, `launcher, init and server expected: ${tree}`);
      for (const p of tree) {
        assert.match(fs.readFileSync(`/proc/${p}/status`, 'utf8'), /^Uid:\s+65534\s+65534\s+65534\s+65534$/m, `pid ${p}`);
      }
      // server-everything keeps timers running after stdin EOF (as root
      // too): SIGTERM, which corral run passes on, ends it.
      child.stdin.end();
      let ex = await withTimeout(c.exit, 3000, 'corral run to exit on EOF').catch(() => null);
      if (!ex) {
        child.kill('SIGTERM');
        ex = await withTimeout(c.exit, 20000, 'corral run to exit on SIGTERM');
      }
      assert.ok(ex.code === 0 || ex.signal === 'SIGTERM', `${JSON.stringify(ex)}\n${c.stderr}`);
      await waitFor(() => tree.every((p) => !pidAlive(p)), { timeout: 10000, what: 'the server processes to go' });
      assert.equal(cgroupWarning(c.stderr).length, 1, c.stderr);
    } finally {
      c.kill();
    }
    await sleep(100);
    checkReports(w);
  });
});
