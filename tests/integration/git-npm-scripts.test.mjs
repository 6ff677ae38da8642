// npm lifecycle scripts with --allow-scripts (issue 14): they run, inside
// corral-sandbox with the build policy, against packages served by the npm
// registry stand-in (tests/fixtures/npm-registry/server.mjs): a native
// addon built by npm's own node-gyp with the host compiler and the host
// node's headers (no network), a plain `cc` install script, and hostile
// scripts that are blocked.  Without --allow-scripts nothing runs.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import {
  EX, REPO, cleanupRoot, corral, expectExit, expectOneLineError, newRoot, run,
} from './lib.mjs';

const { startRegistry } = await import(path.join(REPO, 'tests/fixtures/npm-registry/server.mjs'));

const SERVER_JS = '#!/usr/bin/env node\nconsole.log("hi");\n';
const ADDON_C = `#include <node_api.h>
static napi_value hello(napi_env env, napi_callback_info info) {
  napi_value s; napi_create_string_utf8(env, "built in the sandbox", NAPI_AUTO_LENGTH, &s); return s; }
NAPI_MODULE_INIT() { napi_value f; napi_create_function(env, "hello", NAPI_AUTO_LENGTH, hello, NULL, &f);
  napi_set_named_property(env, exports, "hello", f); return exports; }
`;
const GYP = JSON.stringify({ targets: [{ target_name: 'addon', sources: ['addon.c'] }] });

let reg;
let listener;
let hits = 0;
const work = newRoot('npmscripts');
const marker = path.join(work, 'PWNED');

before(async () => {
  process.env.CORRAL_NPM_METADATA_MAX_AGE = '0';
  reg = await startRegistry();
  listener = net.createServer((s) => { hits++; s.destroy(); });
  await new Promise((r) => listener.listen(0, '127.0.0.1', r));
  const port = listener.address().port;

  // A node-gyp addon (binding.gyp, no install script: npm runs node-gyp rebuild).
  reg.publish('gyp-addon', '1.0.0', { files: { 'binding.gyp': GYP, 'addon.c': ADDON_C } });
  // A plain C program built by an install script.
  reg.publish('c-tool', '1.0.0', {
    files: { 'hello.c': '#include <stdio.h>\nint main(void){puts("hello from cc");return 0;}\n' },
    meta: { scripts: { install: "cc -o hello hello.c && echo '/* touched */' >> hello.c && echo compiled as $(id -u)" } },
  });
  reg.publish('native-srv', '1.0.0', {
    files: { 'bin/srv.js': SERVER_JS },
    meta: { bin: { 'native-srv': 'bin/srv.js' }, dependencies: { 'gyp-addon': '1.0.0', 'c-tool': '1.0.0' } },
  });
  const hostile = {
    'phone-home': `node -e "require('net').connect(${port}, '127.0.0.1').on('connect', () => process.exit(0)).on('error', (e) => { console.log('blocked:', e.code); process.exit(9); })"`,
    'write-out': `touch ${marker}`,
    'read-root': 'ls /root && cat /etc/shadow',
  };
  for (const [n, script] of Object.entries(hostile)) {
    reg.publish(`dep-${n}`, '1.0.0', { meta: { scripts: { postinstall: script } } });
    reg.publish(`srv-${n}`, '1.0.0', {
      files: { 'bin/srv.js': SERVER_JS },
      meta: { bin: { [`srv-${n}`]: 'bin/srv.js' }, dependencies: { [`dep-${n}`]: '1.0.0' } },
    });
  }
});

after(async () => {
  if (listener) listener.close();
  if (reg) await reg.close();
  cleanupRoot(work);
});

const install = (root, spec, ...extra) => corral(['install', spec, '--yes', '--registry', reg.url, ...extra],
  { root, timeout: 300000 });

describe('--allow-scripts runs install scripts inside the sandbox', { skip: process.getuid() !== 0 && 'needs root' }, () => {
  test('without it nothing runs; with it a node-gyp addon and a cc build work', async () => {
    const root = newRoot('npmscripts');
    try {
      let r = await install(root, 'npm:native-srv');
      expectExit(r, 0);
      assert.match(r.stderr, /install scripts not run/);
      const nm = path.join(root, 'servers', 'native-srv', 'pkg', 'node_modules');
      assert.equal(fs.existsSync(path.join(nm, 'c-tool', 'hello')), false);
      const m0 = JSON.parse(fs.readFileSync(path.join(root, 'servers', 'native-srv', 'manifest.json')));
      assert.deepEqual(m0.source.scripts_skipped.sort(), ['c-tool@1.0.0', 'gyp-addon@1.0.0']);

      r = await install(root, 'npm:native-srv', '--allow-scripts', '--force');
      expectExit(r, 0);
      assert.match(r.stderr, /install scripts run in the sandbox: .*c-tool@1\.0\.0/);
      const hello = await run(path.join(nm, 'c-tool', 'hello'), []);
      assert.equal(hello.stdout, 'hello from cc\n');
      const addon = path.join(nm, 'gyp-addon', 'build', 'Release', 'addon.node');
      assert.ok(fs.existsSync(addon), 'node-gyp built the addon');
      const loaded = await run(process.execPath, ['-e', `console.log(require(${JSON.stringify(addon)}).hello())`]);
      assert.equal(loaded.stdout, 'built in the sandbox\n');
      const log = fs.readFileSync(path.join(root, 'log', 'native-srv.log'), 'utf8');
      assert.match(log, /install script of c-tool@1\.0\.0/);
      assert.match(log, /compiled as 1000/);
      // Files are root's again, and the unpacked cache was not written through.
      assert.equal(fs.statSync(path.join(nm, 'c-tool', 'hello')).uid, 0);
      const m = JSON.parse(fs.readFileSync(path.join(root, 'servers', 'native-srv', 'manifest.json')));
      const lock = m.source.lock.find((e) => e.path === 'node_modules/c-tool');
      const hex = Buffer.from(lock.integrity.replace(/^sha512-/, ''), 'base64').toString('hex');
      const cached = path.join(root, 'cache', 'npm', 'unpacked', `sha512-${hex}`);
      assert.equal(fs.existsSync(path.join(cached, 'hello')), false, 'the build wrote nothing into the cache');
      assert.ok(!fs.readFileSync(path.join(cached, 'hello.c'), 'utf8').includes('touched'),
        'a file the script changed was not the cached copy');
      assert.ok(fs.readFileSync(path.join(nm, 'c-tool', 'hello.c'), 'utf8').includes('touched'));
    } finally {
      cleanupRoot(root);
    }
  });

  test('hostile install scripts are blocked and the install fails clearly', async () => {
    const root = newRoot('npmscripts');
    try {
      let r = await install(root, 'npm:srv-phone-home', '--allow-scripts');
      expectExit(r, EX.DATAERR);
      expectOneLineError(r, ['postinstall script of dep-phone-home', 'blocked: ECONNREFUSED']);
      assert.equal(hits, 0, 'nothing reached the host');
      r = await install(root, 'npm:srv-write-out', '--allow-scripts');
      expectExit(r, EX.DATAERR);
      assert.equal(fs.existsSync(marker), false);
      r = await install(root, 'npm:srv-read-root', '--allow-scripts');
      expectExit(r, EX.DATAERR);
      assert.ok(!r.stderr.includes('root:'), 'no /etc/shadow content');
      const list = (d) => (fs.existsSync(d) ? fs.readdirSync(d).filter((e) => e !== '.lock') : []);
      assert.deepEqual(list(path.join(root, 'servers')), []);
      assert.deepEqual(list(path.join(root, 'staging')), []);
    } finally {
      cleanupRoot(root);
    }
  });
});
