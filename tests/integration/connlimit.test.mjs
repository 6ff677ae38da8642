// Connection limits: a local user holding 2,000 idle connections to the
// gateway socket locks nobody else out.  Root's CLI (control socket) and a
// root MCP client keep working, a second unprivileged user still gets in,
// the admin share stays free when unprivileged users fill the rest, refusals
// are logged a few times with counts (not once per connection), and idle
// connections are closed after the idle timeout.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import {
  McpClient, SLOW, cleanupRoot, corral, expectExit, installMock, newRoot, socketPath, startDaemon,
  waitFor, waitReady,
} from './lib.mjs';

const USERS = ['corral-it-hog', 'corral-it-other'];
const IDLE_S = 20 * SLOW; // longer than opening 2,000 connections takes under load

/* A client run as another user: opens n connections to sock, sends a ping on
 * each, and reports on stdout as JSON lines: {"opened","answered","refused"}
 * once every connection has settled, then {"closed": k} as the server closes
 * admitted ones.  Stays until its stdin closes. */
const HOG = `
import net from 'node:net';
const [sock, nStr] = process.argv.slice(2);
const n = Number(nStr);
let answered = 0, refused = 0, settled = 0, closedAfter = 0, reported = false;
const admitted = new Set();
function report() {
  if (!reported && settled === n) {
    reported = true;
    process.stdout.write(JSON.stringify({ opened: n, answered, refused }) + '\\n');
  }
}
function open(i) {
  return new Promise((resolve) => {
    const c = net.connect(sock);
    let got = false, done = false;
    const settle = () => { if (!done) { done = true; settled++; resolve(); report(); } };
    c.on('connect', () => c.write('{"jsonrpc":"2.0","id":' + i + ',"method":"ping"}\\n'));
    c.on('data', () => { if (!got) { got = true; answered++; admitted.add(i); settle(); } });
    c.on('error', () => {});
    c.on('close', () => {
      if (got) { closedAfter++; process.stdout.write(JSON.stringify({ closed: closedAfter }) + '\\n'); }
      else { refused++; settle(); }
    });
  });
}
const batch = 100;
for (let i = 0; i < n; i += batch) {
  await Promise.all(Array.from({ length: Math.min(batch, n - i) }, (_, k) => open(i + k)));
}
process.stdin.on('data', () => {});
process.stdin.on('end', () => process.exit(0));
`;

function ensureUser(name) {
  try {
    execFileSync('id', ['-u', name], { stdio: 'ignore' });
  } catch {
    execFileSync('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', name]);
  }
  return Number(execFileSync('id', ['-u', name]).toString().trim());
}

/* Runs the hog as user; resolves once its first report line arrives. */
function hog(user, script, sock, n) {
  const child = spawn('setpriv', [`--reuid=${user}`, `--regid=${user}`, '--clear-groups', '--',
    process.execPath, script, sock, String(n)], { stdio: ['pipe', 'pipe', 'pipe'] });
  const h = { child, lines: [], stderr: '' };
  let buf = '';
  child.stdout.on('data', (d) => {
    buf += d;
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      h.lines.push(JSON.parse(buf.slice(0, nl)));
      buf = buf.slice(nl + 1);
    }
  });
  child.stderr.on('data', (d) => { h.stderr += d; });
  h.first = waitFor(() => h.lines.find((l) => 'opened' in l), {
    timeout: 120000, what: `${user}'s ${n} connections to settle`,
  }).catch((e) => { throw new Error(`${e.message}\nstderr: ${h.stderr}`); });
  h.closed = () => Math.max(0, ...h.lines.filter((l) => 'closed' in l).map((l) => l.closed));
  h.stop = () => { child.stdin.end(); child.kill('SIGTERM'); };
  return h;
}

describe('connection limits', { timeout: 600000 }, () => {
  let root;
  let daemon;
  const hogs = [];

  before(async () => {
    for (const u of USERS) ensureUser(u);
    root = newRoot('connlimit');
    fs.chmodSync(root, 0o755);
    fs.mkdirSync(path.join(root, 'etc'), { recursive: true });
    fs.writeFileSync(path.join(root, 'etc', 'corral.json'), JSON.stringify({
      gateway: {
        max_connections: 300, max_connections_per_user: 200, admin_reserved_connections: 50,
        first_message_timeout_s: 30, idle_timeout_s: IDLE_S,
      },
    }));
    fs.writeFileSync(path.join(root, 'hog.mjs'), HOG, { mode: 0o644 });
    await installMock(root, 'mock');
    daemon = await startDaemon(root);
    await waitReady(root, ['mock']);
    // What system mode's group-readable socket gives the corral group:
    // here, every local user.
    fs.chmodSync(path.join(root, 'run'), 0o755);
    fs.chmodSync(socketPath(root), 0o666);
  });

  after(async () => {
    for (const h of hogs) h.stop();
    if (daemon) await daemon.kill();
    cleanupRoot(root);
  });

  test('2,000 idle connections from one user lock nobody else out', async () => {
    const script = path.join(root, 'hog.mjs');
    const a = hog(USERS[0], script, socketPath(root), 2000);
    hogs.push(a);
    const ra = await a.first;
    assert.equal(ra.answered, 200, `per-user cap not applied: ${JSON.stringify(ra)}`);
    assert.equal(ra.refused, 1800, JSON.stringify(ra));

    // Root's CLI over the control socket.
    const st = await corral(['status', '--json'], { root, timeout: 20000 });
    expectExit(st, 0, 'root status while a user holds 200 connections');

    // A root MCP client on the gateway socket.
    const c = await McpClient.connect(socketPath(root));
    await c.initialize();
    const tools = await c.listTools();
    assert.ok(tools.some((t) => t.name === 'mock__echo'), 'root MCP client got no tools');

    // A second unprivileged user fills what is left outside the admin share.
    const b = hog(USERS[1], script, socketPath(root), 100);
    hogs.push(b);
    const rb = await b.first;
    // 300 total - 50 for admins - 200 of user A - 1 root client = 49.
    assert.equal(rb.answered, 49, `second user: ${JSON.stringify(rb)}`);

    // Root still gets in: the admin share.
    const c2 = await McpClient.connect(socketPath(root));
    await c2.initialize();
    await c2.listTools();
    expectExit(await corral(['status'], { root, timeout: 20000 }), 0, 'root status at the cap');

    // Refusals: counted in a few log lines, not one per connection.
    const lines = daemon.output().split('\n').filter((l) => /gateway socket: refused \d+/.test(l));
    assert.ok(lines.length >= 1, `no refusal log line:\n${daemon.output()}`);
    assert.ok(lines.length <= 10, `${lines.length} refusal lines for 1,851 refusals`);

    // Idle connections are closed after the idle timeout; root's are not.
    await waitFor(() => a.closed() === 200 && b.closed() === 49, {
      timeout: (IDLE_S + 30) * 1000, what: 'idle connections to be closed',
    });
    await c.listTools();
    await c.close();
    await c2.close();
  });

  test('a connection that never sends a complete message is closed at the deadline', async () => {
    fs.writeFileSync(path.join(root, 'etc', 'corral.json'), JSON.stringify({
      gateway: { first_message_timeout_s: 2, idle_timeout_s: 600 },
    }));
    await daemon.stop();
    daemon = await startDaemon(root);
    const net = await import('node:net');
    const s = net.connect(socketPath(root));
    s.on('error', () => {});
    s.write('{"jsonrpc":"2.0","id":1,'); // never finished
    const t0 = Date.now();
    await new Promise((resolve) => s.on('close', resolve));
    const took = Date.now() - t0;
    assert.ok(took >= 1500, `closed after ${took} ms, before the deadline`);
  });
});
