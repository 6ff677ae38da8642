// Log lines dropped while the disk is full (src/util/logfile.c): the log
// directory is a 256 KiB tmpfs, a server writes "tick N" to stderr every
// 10 ms, the tmpfs is filled and later emptied.  The lines written meanwhile
// are lost, and the log says exactly how many, on a line of its own:
// "corral: N log lines dropped (disk full)"; `corral status` shows the count.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import {
  cleanupRoot, corral, expectExit, installMock, newRoot, sleep, startDaemon, status, unitOf,
  waitFor, waitReady,
} from './lib.mjs';

describe('log lines dropped on a full disk', { timeout: 180000 }, () => {
  let root;
  let logDir;
  let daemon;
  let mounted = false;

  before(async () => {
    root = newRoot('logdrop');
    logDir = path.join(root, 'log');
    fs.mkdirSync(logDir, { recursive: true });
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', logDir]);
    mounted = true;
    await installMock(root, 'chatty', 'chatty');
    daemon = await startDaemon(root);
    await waitReady(root, ['chatty']);
  });

  after(async () => {
    await daemon?.stop().catch(() => daemon.kill());
    if (mounted) execFileSync('umount', ['-l', logDir]);
    cleanupRoot(root);
  });

  test('the count of lost lines is written once space returns, and shown in status', async () => {
    const log = path.join(logDir, 'chatty.log');
    await waitFor(() => fs.readFileSync(log, 'utf8').includes('tick 20\n'),
      { what: 'ticks in the log' });
    const filler = path.join(logDir, 'filler');
    // Fill the disk (dd stops with ENOSPC), then let the server write on.
    try {
      execFileSync('dd', ['if=/dev/zero', `of=${filler}`, 'bs=4k'], { stdio: 'ignore' });
    } catch { /* ENOSPC ends dd */ }
    // (The log's last page may take a few more ticks before writes fail.)
    const st = await waitFor(async () => {
      const s = await status(root);
      return unitOf(s, 'chatty').log_lines_dropped > 20 ? s : null;
    }, { timeout: 30000, what: 'status to count dropped lines while the disk is full' });
    assert.ok(unitOf(st, 'chatty').log_lines_dropped > 20);
    await sleep(200);

    fs.unlinkSync(filler);
    await waitFor(() => /corral: \d+ log lines dropped \(disk full\)\n(.*\n)*tick \d+\n/
      .test(fs.readFileSync(log, 'utf8')), { what: 'the notice and new ticks after it' });

    const text = fs.readFileSync(log, 'utf8');
    const notices = [...text.matchAll(/^\S+ corral: (\d+) log lines dropped \(disk full\)$/gm)];
    assert.equal(notices.length, 1, `one notice, on a line of its own:\n${text.slice(-2000)}`);
    const n = Number(notices[0][1]);
    // Every tick the server wrote is either in the log or counted.
    const ticks = [...text.matchAll(/^tick (\d+)$/gm)].map((m) => Number(m[1]));
    const last = Math.max(...ticks);
    const missing = last - new Set(ticks).size;
    assert.equal(n, missing, `the notice counts exactly the ticks missing from the log (${missing})`);
    const total = unitOf(await status(root), 'chatty').log_lines_dropped;
    assert.equal(total, n, 'status shows the same count');

    const text2 = await corral(['status'], { root });
    expectExit(text2, 0, 'status');
    assert.match(text2.stdout, new RegExp(`chatty: ${n} log lines dropped`));
  });
});
