// MCP Bundles from a file (issue 13): a small honest bundle installs and
// runs; hostile ones are refused with exit 65 (or 69 for what this host
// cannot run) and leave nothing in the store or its staging area: path
// traversal, an absolute path, a symlink out, a 2 GiB entry, 100,000
// entries, a command escaping ${__dirname}, a binary outside the bundle.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import {
  MOCK_SERVER, cleanupRoot, corral, expectExit, expectOneLineError, expectSameTree, newRoot,
  storeSnapshot,
} from './lib.mjs';
import { makeZip } from './registry-standin.mjs';

function manifest(over = {}) {
  return JSON.stringify({
    manifest_version: '0.3',
    name: 'mock',
    version: '1.2.3',
    description: 'the mock server as a bundle',
    author: { name: 'corral tests' },
    server: {
      type: 'node',
      entry_point: 'server/mock-server.mjs',
      mcp_config: { command: 'node', args: ['${__dirname}/server/mock-server.mjs', 'ok'], env: { MOCK_MODE: '${user_config.mode}' } },
    },
    user_config: { mode: { type: 'string', title: 'Mode', description: 'a mode', default: 'ok' } },
    ...over,
  });
}

describe('mcpb: bundles from files, hostile ones refused', { timeout: 300000 }, () => {
  let root;
  let tmp;
  const mock = fs.readFileSync(MOCK_SERVER);
  const write = (name, entries) => {
    const p = path.join(tmp, name);
    fs.writeFileSync(p, makeZip(entries));
    return p;
  };

  before(() => {
    root = newRoot('mcpb');
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-mcpb-'));
  });

  after(() => {
    cleanupRoot(root);
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  test('an honest bundle: ./NAME.mcpb installs with its manifest\'s command and version', async () => {
    const p = write('mock.mcpb', [
      { name: 'manifest.json', data: manifest(), deflate: true },
      { name: 'server/', data: '', mode: 0o40755 },
      { name: 'server/mock-server.mjs', data: mock, deflate: true },
    ]);
    const r = await corral(['install', p, '--yes', '--json'], { root });
    expectExit(r, 0, 'install mock.mcpb');
    const m = JSON.parse(r.stdout);
    assert.equal(m.name, 'mock');
    assert.equal(m.source.kind, 'mcpb');
    assert.equal(m.source.resolved.version, '1.2.3');
    assert.match(m.source.resolved.digest, /^sha256:[0-9a-f]{64}$/);
    const pkg = path.join(root, 'servers/mock/pkg');
    assert.deepEqual(m.runtime.command, ['node', `${pkg}/server/mock-server.mjs`, 'ok']);
    assert.deepEqual(m.runtime.env, { MOCK_MODE: 'ok' });
    assert.ok(fs.existsSync(`${pkg}/server/mock-server.mjs`));
    // Through the sandbox, speaking MCP.
    const init = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } } });
    const run = await corral(['run', 'mock'], { root, input: `${init}\n`, timeout: 30000 });
    assert.match(run.stdout, /"serverInfo"/, run.stderr);
  });

  const hostile = [
    ['path traversal', [{ name: 'manifest.json', data: manifest() }, { name: '../evil.js', data: 'x' }], 65, ['../evil.js', 'refusing']],
    ['an absolute path', [{ name: 'manifest.json', data: manifest() }, { name: '/tmp/corral-evil.js', data: 'x' }], 65, ['refusing']],
    ['a symlink out', [{ name: 'manifest.json', data: manifest() }, { name: 'server/mock-server.mjs', data: '../../../../../etc/passwd', mode: 0o120777 }], 65, ['links are not allowed']],
    ['a 2 GiB sparse entry', [{ name: 'manifest.json', data: manifest() }, { name: 'big.bin', data: Buffer.alloc(1 << 20), deflate: true, declaredSize: 2 ** 31 }], 65, ['2147483648', 'MCPB_MAX_ENTRY']],
    ['a command escaping ${__dirname}', [{ name: 'manifest.json', data: manifest({ server: { type: 'node', entry_point: 'x.js', mcp_config: { command: 'node', args: ['${__dirname}/../../../../usr/lib/x.js'] } } }) }], 65, ['leaves ${__dirname}']],
    ['a binary outside the bundle', [{ name: 'manifest.json', data: manifest({ server: { type: 'binary', entry_point: 'sh', mcp_config: { command: '/bin/sh', args: ['-c', 'id'] } } }) }], 65, ['not inside']],
    ['a python bundle', [{ name: 'manifest.json', data: manifest({ server: { type: 'python', entry_point: 'server/main.py', mcp_config: { command: 'python3', args: ['${__dirname}/server/main.py'] } } }) }], 69, ['python']],
  ];
  for (const [what, entries, code, words] of hostile) {
    test(`refused: ${what}`, async () => {
      const p = write('hostile.mcpb', entries);
      const before = storeSnapshot(root);
      const r = await corral(['install', `mcpb:${p}`, '--name', 'hostile', '--yes'], { root });
      expectExit(r, code, what);
      expectOneLineError(r, words);
      expectSameTree(before, storeSnapshot(root));
      assert.deepEqual(fs.readdirSync(path.join(root, 'staging')), [], 'staging is empty');
      assert.ok(!fs.existsSync('/tmp/corral-evil.js'));
    });
  }

  test('refused: 100,000 entries', async () => {
    const entries = [{ name: 'manifest.json', data: manifest() }];
    for (let i = 0; i < 100000; i++) entries.push({ name: `f/${i}`, data: '' });
    const p = write('many.mcpb', entries);
    const before = storeSnapshot(root);
    const r = await corral(['install', `mcpb:${p}`, '--name', 'many', '--yes'], { root });
    expectExit(r, 65, '100,000 entries');
    expectOneLineError(r, ['more than 50000 entries']);
    expectSameTree(before, storeSnapshot(root));
    assert.deepEqual(fs.readdirSync(path.join(root, 'staging')), []);
  });
});
