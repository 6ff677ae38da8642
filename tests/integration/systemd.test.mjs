// The daemon under a service manager (packaging/systemd): socket activation
// through systemd's own systemd-socket-activate (LISTEN_FDS/LISTEN_FDNAMES,
// the daemon exec'd on the first connection), and sd_notify datagrams
// (READY=1, RELOADING=1/READY=1 on reload, STOPPING=1) to a NOTIFY_SOCKET
// received by a python3 datagram listener.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import {
  CORRAL, cleanupRoot, controlPath, corral, corralEnv, expectExit, installMock, newRoot,
  socketPath, waitFor, waitReady,
} from './lib.mjs';

const ACTIVATE = '/usr/bin/systemd-socket-activate';

/* A datagram socket at sockPath whose messages arrive as lines (one message
 * per line, newlines inside shown as '|'). */
function notifyListener(sockPath) {
  const py = spawn('python3', ['-u', '-c', `
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print("bound", flush=True)
while True:
    print(s.recv(4096).decode().replace("\\n", "|"), flush=True)
`, sockPath], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = [];
  let buf = '';
  py.stdout.on('data', (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      lines.push(buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
  });
  return { py, lines };
}

describe('systemd: socket activation and sd_notify', { timeout: 300000 }, () => {
  let root;
  let act;
  let notify;

  before(async () => {
    root = newRoot('systemd');
    fs.mkdirSync(path.join(root, 'run'), { recursive: true, mode: 0o700 });
    await installMock(root, 'm1');
  });

  after(async () => {
    if (act && act.exitCode === null) act.kill('SIGKILL');
    if (notify) notify.py.kill('SIGKILL');
    cleanupRoot(root);
  });

  test('the first client starts the daemon on the passed sockets; it notifies', async () => {
    const notifySock = path.join(root, 'notify.sock');
    notify = notifyListener(notifySock);
    await waitFor(() => notify.lines.includes('bound'), { what: 'the notify listener' });

    // As corral.socket: two ListenStream= sockets, one unit name for both.
    act = spawn(ACTIVATE, ['-l', controlPath(root), '-l', socketPath(root),
      '--fdname=corral.socket:corral.socket',
      '-E', 'NOTIFY_SOCKET', '-E', 'CORRAL_LOG',
      CORRAL, '--root', root, 'daemon'], {
      env: corralEnv({ NOTIFY_SOCKET: notifySock, CORRAL_LOG: 'debug' }),
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    act.stderr.on('data', (d) => { stderr += d; });
    await waitFor(() => fs.existsSync(socketPath(root)) && fs.existsSync(controlPath(root)),
      { what: 'systemd-socket-activate listening' });
    assert.equal(notify.lines.length, 1, 'nothing notified before the first client');

    // The first connection execs the daemon with both fds.
    await waitReady(root, ['m1']);
    assert.match(stderr, /listening on .*control\.sock \(control, socket activation\)/);
    assert.match(stderr, /listening on .*mcp\.sock \(mcp, socket activation\)/);
    await waitFor(() => notify.lines.some((l) => l.startsWith('READY=1')),
      { what: 'READY=1' });

    // Reload over the control socket: RELOADING=1 (with MONOTONIC_USEC), then READY=1.
    const n = notify.lines.length;
    expectExit(await corral(['reload'], { root }), 0, 'reload');
    await waitFor(() => notify.lines.length >= n + 2, { what: 'reload notifications' });
    assert.match(notify.lines[n], /^RELOADING=1\|MONOTONIC_USEC=\d+$/);
    assert.equal(notify.lines[n + 1], 'READY=1');

    // Stopping: STOPPING=1; the socket files are the service manager's and stay.
    const exited = new Promise((r) => act.on('exit', r));
    act.kill('SIGTERM');
    await exited;
    assert.ok(notify.lines.includes('STOPPING=1'), `notified: ${notify.lines.join(', ')}`);
    assert.ok(fs.existsSync(socketPath(root)), 'the daemon left the passed socket file alone');
  });
});
