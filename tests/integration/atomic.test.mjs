// Atomic installs: SIGKILL `corral install` (and `corral uninstall`) of a
// directory of a few thousand files at a series of delays.  After every kill
// servers/ holds no partial server — each one is absent or complete with its
// manifest.json — and the next corral invocation empties staging/.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import {
  CORRAL, cleanupRoot, corral, corralEnv, expectExit, newRoot, withTimeout,
} from './lib.mjs';

const DIRS = 40;
const FILES_PER_DIR = 100;

/* `rel size` for every regular file under dir, sorted. */
function fileList(dir) {
  const out = [];
  const walk = (rel) => {
    for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(r);
      else out.push(`${r} ${fs.lstatSync(path.join(dir, r)).size}`);
    }
  };
  walk('');
  return out.sort();
}

function makeBigPackage(dir) {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'package.json'),
    JSON.stringify({ name: 'big-server', version: '1.0.0', bin: 'index.js' }, null, 2));
  fs.writeFileSync(path.join(dir, 'index.js'), '#!/usr/bin/env node\nprocess.stdin.resume();\n');
  for (let d = 0; d < DIRS; d++) {
    const sub = path.join(dir, 'lib', `d${String(d).padStart(3, '0')}`);
    fs.mkdirSync(sub, { recursive: true });
    for (let f = 0; f < FILES_PER_DIR; f++) {
      const body = `// file ${d}/${f}\n` + 'x'.repeat(1024 + ((d * 31 + f * 17) % 2048)) + '\n';
      fs.writeFileSync(path.join(sub, `f${f}.js`), body);
    }
  }
}

/* Starts corral with args and SIGKILLs it after delayMs; resolves
 * {code, signal} (code 0 when it finished first). */
function runAndKill(root, args, delayMs) {
  return withTimeout(new Promise((resolve, reject) => {
    const child = spawn(CORRAL, ['--root', root, ...args], { env: corralEnv(), stdio: 'ignore' });
    const t = setTimeout(() => child.kill('SIGKILL'), delayMs);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(t);
      resolve({ code, signal });
    });
  }), 120000, `corral ${args[0]} to exit`);
}

describe('atomic install and uninstall under SIGKILL', { timeout: 900000 }, () => {
  let root;
  let src;
  let expectedFiles;

  before(() => {
    root = newRoot('atomic');
    src = path.join(newRoot('atomic-src'), 'big-server');
    makeBigPackage(src);
    expectedFiles = fileList(src);
  });

  after(() => {
    cleanupRoot(root);
    cleanupRoot(path.dirname(src));
  });

  /* Every server in servers/ is complete: a parseable manifest naming it and a
   * pkg/ with exactly the source's files.  Returns the names present. */
  function checkServers() {
    const names = [];
    const serversDir = path.join(root, 'servers');
    for (const e of fs.readdirSync(serversDir, { withFileTypes: true })) {
      if (e.name.startsWith('.')) continue; // the store lock
      names.push(e.name);
      assert.ok(e.isDirectory(), `servers/${e.name} is not a directory`);
      const mpath = path.join(serversDir, e.name, 'manifest.json');
      assert.ok(fs.existsSync(mpath), `servers/${e.name} has no manifest.json: a partial server is visible`);
      const m = JSON.parse(fs.readFileSync(mpath, 'utf8'));
      assert.equal(m.manifest_version, 1);
      assert.equal(m.name, e.name);
      const got = fileList(path.join(serversDir, e.name, 'pkg'));
      assert.equal(got.length, expectedFiles.length, `servers/${e.name}/pkg has ${got.length} files, ` +
        `expected ${expectedFiles.length}`);
      assert.deepEqual(got, expectedFiles, `servers/${e.name}/pkg differs from the source`);
    }
    return names;
  }

  function stagingEntries() {
    try {
      return fs.readdirSync(path.join(root, 'staging')).filter((n) => !n.startsWith('.'));
    } catch (e) {
      if (e.code === 'ENOENT') return [];
      throw e;
    }
  }

  /* The next invocation removes staging leftovers. */
  async function nextRunCleansStaging() {
    const r = await corral(['list'], { root });
    expectExit(r, 0, 'list after a kill');
    assert.deepEqual(stagingEntries(), [], 'staging leftovers survived the next corral run');
  }

  let installMs = 0;

  test('an uninterrupted install is complete', async () => {
    const t0 = Date.now();
    const r = await corral(['install', src, '--name', 'big-ref', '--yes'], { root, timeout: 120000 });
    installMs = Date.now() - t0;
    expectExit(r, 0, 'install big-ref');
    assert.deepEqual(checkServers(), ['big-ref']);
    assert.deepEqual(stagingEntries(), []);
    expectExit(await corral(['uninstall', 'big-ref'], { root }), 0, 'uninstall big-ref');
    assert.deepEqual(checkServers(), []);
  });

  test('SIGKILL during install at many points: never a partial server', async (t) => {
    const base = Math.max(installMs, 50);
    const delays = [0, 2, 5, 10, 20]
      .concat([0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.2, 1.4, 1.7, 2.0, 2.5].map((f) => Math.round(f * base)))
      // Late enough that the install surely finished: the kill hits nothing.
      // The timer is cleared when corral exits, so a generous bound costs no
      // time; 3x the first install was not enough under a load of 8.
      .concat([Math.max(3 * base + 2000, 60000)]);
    let interrupted = 0;
    let completed = 0;
    for (const [i, delay] of delays.entries()) {
      const name = `big-${i}`;
      const res = await runAndKill(root, ['install', src, '--name', name, '--yes'], delay);
      const present = checkServers();
      assert.ok(present.every((n) => n === name), `unexpected servers: ${present}`);
      if (res.signal === 'SIGKILL') {
        if (stagingEntries().length > 0) interrupted++;
      } else {
        assert.equal(res.code, 0, `install ${name} finished with ${JSON.stringify(res)}`);
        assert.deepEqual(present, [name], 'an install that exited 0 left no server');
      }
      if (present.includes(name)) completed++;
      await nextRunCleansStaging();
      assert.deepEqual(checkServers(), present, 'the cleanup run changed servers/');
      if (present.includes(name)) {
        expectExit(await corral(['uninstall', name], { root }), 0, `uninstall ${name}`);
      }
    }
    t.diagnostic(`install ${installMs} ms; ${interrupted} kills left staging leftovers, ` +
      `${completed} of ${delays.length} installs completed`);
    assert.ok(interrupted > 0, `no kill landed mid-install (install takes ${installMs} ms; delays ${delays})`);
    assert.ok(completed > 0, 'no install ever completed');
  });

  test('SIGKILL during uninstall: the server is either all there or gone', async () => {
    const base = Math.max(installMs, 50);
    const delays = [0, 5, 10, 20].concat([0.1, 0.25, 0.5, 0.75, 1].map((f) => Math.round(f * base)));
    for (const delay of delays) {
      if (!checkServers().includes('big-u')) {
        expectExit(await corral(['install', src, '--name', 'big-u', '--yes'], { root, timeout: 120000 }), 0,
          'install big-u');
      }
      await runAndKill(root, ['uninstall', 'big-u'], delay);
      checkServers();
      await nextRunCleansStaging();
    }
  });
});
