// `make stress`: fault injection against the real daemon, each scenario
// bounded in time (STRESS_TIME seconds each, default 20), each printing its
// counts: requests sent, answered, answered with an error, hung (no answer
// 30 s after the scenario ended), orphans (server processes alive after
// their daemon died), zombies (unreaped children of the daemon), and the
// daemon's fds and RSS before and after.  Not part of `make check`: it
// asserts nothing, it measures; the exit status is 1 when any hung, orphan,
// zombie or inconsistent store was seen.
//
// Usage: CORRAL_BIN=build/corral node tests/stress/stress.mjs [SCENARIO...]
// Scenarios: kill-storm daemon-kills killed-installs conn-flood disk-full

import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';

import {
  CORRAL, FIXTURES, McpClient, cleanupRoot, corral, corralEnv, descendants, installMock,
  newRoot, pidAlive, sleep, socketPath, startDaemon, status, waitReady,
} from '../integration/lib.mjs';

const TIME = Number(process.env.STRESS_TIME || 20) * 1000;
const HANG_MS = 30000;
let bad = 0;

function procInfo(pid) {
  let fds = -1;
  let rss = -1;
  try { fds = fs.readdirSync(`/proc/${pid}/fd`).length; } catch { /* gone */ }
  try {
    const m = fs.readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+)/m);
    rss = m ? Number(m[1]) : -1;
  } catch { /* gone */ }
  return { fds, rss };
}

function zombiesOf(pid) {
  let n = 0;
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const st = fs.readFileSync(`/proc/${e}/stat`, 'utf8');
      const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
      if (f[0] === 'Z' && Number(f[1]) === pid) n++;
    } catch { /* gone */ }
  }
  return n;
}

function report(name, c) {
  const fields = Object.entries(c).map(([k, v]) => `${k}=${v}`).join(' ');
  console.log(`stress ${name}: ${fields}`);
  if ((c.hung || 0) + (c.orphans || 0) + (c.zombies || 0) + (c.inconsistent || 0) > 0) bad++;
}

/* Calls tools on the gateway as fast as `concurrency` clients allow until
 * stop() is called; returns the counts once every call settled or hung. */
function callLoad(root, { concurrency = 8, tool = 'a__echo', args = { text: 'x' } } = {}) {
  const c = { sent: 0, answered: 0, errors: 0, hung: 0 };
  let running = true;
  const workers = [];
  for (let w = 0; w < concurrency; w++) {
    workers.push((async () => {
      let client = null;
      while (running) {
        try {
          if (!client || client.closed) {
            client = await McpClient.connect(socketPath(root));
            await client.initialize();
          }
          c.sent++;
          try {
            const res = await client.request('tools/call', { name: tool, arguments: args },
              { timeout: HANG_MS });
            if (res?.isError) c.errors++; else c.answered++;
          } catch (e) {
            if (/timed out/.test(e.message)) c.hung++;
            else c.errors++;
          }
        } catch {
          await sleep(50); // the socket refused or closed: try again
        }
      }
      client?.close?.();
      client?.socket?.destroy();
    })());
  }
  return {
    async stop() {
      running = false;
      await Promise.all(workers);
      return c;
    },
  };
}

async function serverPids(root) {
  const st = await status(root);
  return st.units.map((u) => u.pid).filter((p) => p > 0);
}

// ------------------------------------------------------------- scenarios

/* SIGKILL of a random server every 100 ms while 8 clients call through
 * the gateway. */
async function killStorm() {
  const root = newRoot('stress-kill');
  for (const n of ['a', 'b', 'c']) await installMock(root, n, 'ok');
  const d = await startDaemon(root);
  await waitReady(root, ['a', 'b', 'c']);
  const before = procInfo(d.pid);
  const load = callLoad(root);
  const seen = new Set();
  let kills = 0;
  const end = Date.now() + TIME;
  while (Date.now() < end) {
    const pids = await serverPids(root).catch(() => []);
    pids.forEach((p) => seen.add(p));
    if (pids.length) {
      try { process.kill(pids[Math.floor(Math.random() * pids.length)], 'SIGKILL'); kills++; } catch { /* raced */ }
    }
    await sleep(100);
  }
  const c = await load.stop();
  await waitReady(root, ['a', 'b', 'c'], 60000).catch(() => {});
  await sleep(500);
  const after = procInfo(d.pid);
  const zombies = zombiesOf(d.pid);
  const tree = descendants(d.pid);
  await d.stop();
  await sleep(500);
  const orphans = [...seen, ...tree].filter(pidAlive).length;
  report('kill-storm', { kills, ...c, orphans, zombies, fds: `${before.fds}->${after.fds}`,
    rss_kib: `${before.rss}->${after.rss}` });
  cleanupRoot(root);
}

/* The daemon SIGKILLed with slow calls in flight, again and again. */
async function daemonKills() {
  const root = newRoot('stress-dkill');
  for (const n of ['a', 'b']) await installMock(root, n, 'ok');
  const c = { rounds: 0, sent: 0, answered: 0, errors: 0, hung: 0, orphans: 0, zombies: 0 };
  const end = Date.now() + TIME;
  while (Date.now() < end) {
    const d = await startDaemon(root);
    await waitReady(root, ['a', 'b']);
    const tree = descendants(d.pid);
    const client = await McpClient.connect(socketPath(root));
    await client.initialize();
    const calls = [];
    for (let i = 0; i < 10; i++) {
      c.sent++;
      calls.push(client.request('tools/call', { name: i % 2 ? 'a__sleep' : 'b__sleep',
        arguments: { ms: 5000 } }, { timeout: HANG_MS }));
    }
    await sleep(300);
    await d.kill();
    for (const p of calls) {
      try { await p; c.answered++; } catch (e) { if (/timed out/.test(e.message)) c.hung++; else c.errors++; }
    }
    client.socket?.destroy();
    await sleep(1000); // servers notice their parent died (PDEATHSIG, pid namespace)
    c.orphans += tree.filter(pidAlive).length;
    c.rounds++;
  }
  report('daemon-kills', c);
  cleanupRoot(root);
}

/* `corral install` SIGKILLed at random moments; after each, the store must
 * list cleanly and hold no half-installed server. */
async function killedInstalls() {
  const root = newRoot('stress-kinst');
  const src = path.join(FIXTURES, 'memory');
  const c = { installs: 0, killed: 0, completed: 0, inconsistent: 0 };
  const end = Date.now() + TIME;
  while (Date.now() < end) {
    c.installs++;
    const child = spawn(CORRAL, ['--root', root, 'install', src, '--name', 'm', '--force', '--yes'],
      { env: corralEnv(), stdio: 'ignore' });
    const exit = new Promise((r) => child.on('exit', (code, sig) => r({ code, sig })));
    await sleep(Math.random() * 800);
    child.kill('SIGKILL');
    const e = await exit;
    if (e.sig) c.killed++; else if (e.code === 0) c.completed++;
    const list = await corral(['list', '--json'], { root });
    let ok = list.code === 0;
    if (ok) {
      for (const s of JSON.parse(list.stdout)) {
        ok = ok && fs.existsSync(path.join(root, 'servers', s.name, 'manifest.json')) &&
          fs.existsSync(path.join(root, 'servers', s.name, 'pkg'));
      }
      // store_open() removed the dead install's staging dir.
      ok = ok && fs.readdirSync(path.join(root, 'staging')).length === 0;
    }
    if (!ok) c.inconsistent++;
  }
  report('killed-installs', c);
  cleanupRoot(root);
}

/* The flood, run as another user: opens n connections to sock (100 at a
 * time) and holds them; prints {"opened","refused","closed_by_daemon"} a
 * second after all settled, then
 * stays until its stdin closes. */
const FLOODER = `
import net from 'node:net';
const [sock, n] = [process.argv[2], Number(process.argv[3])];
let opened = 0, refused = 0, closed = 0;
const held = [];
const one = () => new Promise((resolve) => {
  const s = net.connect(sock);
  s.once('connect', () => { opened++; held.push(s); resolve(); });
  s.once('error', () => { refused++; resolve(); });
  s.on('close', () => { if (held.includes(s)) closed++; });
});
for (let i = 0; i < n; i += 100) await Promise.all(Array.from({ length: Math.min(100, n - i) }, one));
await new Promise((resolve) => setTimeout(resolve, 1000));
process.stdout.write(JSON.stringify({ opened, refused, closed_by_daemon: closed }) + '\\n');
process.stdin.on('data', () => {});
process.stdin.on('end', () => process.exit(0));
`;

/* 2,000 idle connections on the gateway socket from an unprivileged user
 * (nobody; the per-user cap admits some, closes the rest) while root's CLI and a root MCP client keep working; then the
 * flooder goes and its connections with it. */
async function connFlood() {
  const root = newRoot('stress-flood');
  await installMock(root, 'a', 'ok');
  const d = await startDaemon(root);
  await waitReady(root, ['a']);
  // What system mode's group-readable socket gives the corral group.
  fs.chmodSync(root, 0o755);
  fs.chmodSync(path.join(root, 'run'), 0o755);
  fs.chmodSync(socketPath(root), 0o666);
  fs.writeFileSync(path.join(root, 'flood.mjs'), FLOODER, { mode: 0o644 });
  const before = procInfo(d.pid);
  const c = { opened: 0, refused: 0, status_ok: 0, status_failed: 0, calls_ok: 0, calls_failed: 0 };
  const end = Date.now() + TIME;
  const child = spawn('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', '--',
    process.execPath, path.join(root, 'flood.mjs'), socketPath(root), '2000'],
  { stdio: ['pipe', 'pipe', 'inherit'] });
  const settled = new Promise((resolve) => {
    let buf = '';
    child.stdout.on('data', (x) => {
      buf += x;
      if (buf.includes('\n')) resolve(JSON.parse(buf.slice(0, buf.indexOf('\n'))));
    });
    child.on('exit', () => resolve({ opened: -1, refused: -1 }));
  });
  Object.assign(c, await settled);
  while (Date.now() < end) {
    const r = await corral(['status'], { root });
    if (r.code === 0) c.status_ok++; else c.status_failed++;
    try {
      const cl = await McpClient.connect(socketPath(root));
      await cl.initialize();
      await cl.request('tools/call', { name: 'a__echo', arguments: { text: 'x' } }, { timeout: 10000 });
      c.calls_ok++;
      cl.socket.destroy();
    } catch { c.calls_failed++; }
    await sleep(200);
  }
  const during = procInfo(d.pid);
  child.stdin.end();
  await new Promise((resolve) => { if (child.exitCode !== null) resolve(); else child.on('exit', resolve); });
  await sleep(2000);
  const after = procInfo(d.pid);
  await d.stop();
  report('conn-flood', { ...c, fds: `${before.fds}->${during.fds}->${after.fds}`,
    rss_kib: `${before.rss}->${during.rss}->${after.rss}` });
  if (c.calls_failed || c.status_failed) bad++;
  cleanupRoot(root);
}

/* On a 4 MiB tmpfs: an install too big for it, then a small one, again and
 * again; the big one must fail with 73 and leave store, staging and cache
 * as they were, the small one must work. */
async function diskFull() {
  const root = newRoot('stress-full');
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', root]);
  const small = fs.mkdtempSync('/tmp/corral-stress-small-');
  fs.writeFileSync(path.join(small, 'x.js'), 'process.stdin.resume();\n');
  const c = { rounds: 0, big_73: 0, big_other: 0, small_ok: 0, small_failed: 0, inconsistent: 0 };
  const end = Date.now() + TIME;
  try {
    while (Date.now() < end) {
      c.rounds++;
      const big = await corral(['install', path.join(FIXTURES, 'memory'), '--name', 'big', '--yes'],
        { root, timeout: 120000 });
      if (big.code === 73) c.big_73++; else c.big_other++;
      const staging = fs.readdirSync(path.join(root, 'staging')).length;
      const info = await corral(['cache', 'info', '--json'], { root });
      const leftovers = info.code === 0 ? JSON.parse(info.stdout).leftovers : -1;
      if (staging !== 0 || leftovers !== 0 || fs.existsSync(path.join(root, 'servers', 'big'))) {
        c.inconsistent++;
      }
      const s = await corral(['install', small, '--name', 'small', '--force', '--yes', '--', 'node', 'x.js'],
        { root });
      if (s.code === 0) c.small_ok++; else c.small_failed++;
    }
  } finally {
    execFileSync('umount', ['-l', root]);
    fs.rmSync(small, { recursive: true, force: true });
    cleanupRoot(root);
  }
  report('disk-full', c);
}

const scenarios = {
  'kill-storm': killStorm,
  'daemon-kills': daemonKills,
  'killed-installs': killedInstalls,
  'conn-flood': connFlood,
  'disk-full': diskFull,
};
const names = process.argv.slice(2).length ? process.argv.slice(2) : Object.keys(scenarios);
for (const n of names) {
  if (!scenarios[n]) {
    console.error(`stress: unknown scenario ${n} (${Object.keys(scenarios).join(' ')})`);
    process.exit(64);
  }
}
for (const n of names) {
  const t0 = Date.now();
  try {
    await scenarios[n]();
  } catch (e) {
    console.log(`stress ${n}: failed to run: ${e.message.split('\n')[0]}`);
    bad++;
  }
  console.log(`stress ${n}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}
process.exit(bad ? 1 : 0);
