// The npm resolver against the real registry: for four MCP servers, the tree
// corral installs under pkg/node_modules holds the same (name, version) set as
// `npm install --omit=dev --ignore-scripts` gives at the same moment, every
// package of the lock is verified and recorded, and each server answers
// tools/list through corral's gateway.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import {
  McpClient, cleanupRoot, corral, expectExit, newRoot, run, socketPath, startDaemon, waitReady,
} from './lib.mjs';

const SERVERS = [
  { pkg: '@modelcontextprotocol/server-everything', name: 'everything', tool: 'everything__echo' },
  { pkg: '@modelcontextprotocol/server-memory', name: 'memory', tool: 'memory__read_graph' },
  { pkg: '@modelcontextprotocol/server-filesystem', name: 'filesystem', tool: 'filesystem__list_directory' },
  { pkg: '@modelcontextprotocol/server-sequential-thinking', name: 'sequential-thinking', tool: 'sequential-thinking__sequentialthinking' },
];

/* Every name@version under a node_modules tree (nested ones included). */
export function treeSet(nm) {
  const out = new Set();
  const walk = (dir) => {
    if (!fs.existsSync(dir)) return;
    for (const e of fs.readdirSync(dir)) {
      if (e.startsWith('.')) continue;
      const names = e.startsWith('@') ? fs.readdirSync(path.join(dir, e)).map((x) => `${e}/${x}`) : [e];
      for (const n of names) {
        const p = path.join(dir, n);
        const j = JSON.parse(fs.readFileSync(path.join(p, 'package.json'), 'utf8'));
        out.add(`${j.name}@${j.version}`);
        walk(path.join(p, 'node_modules'));
      }
    }
  };
  walk(nm);
  return [...out].sort();
}

describe('npm: real registry', { timeout: 400000 }, () => {
  let root;
  let npmDir;
  let fsDir;
  let daemon;
  const npmTrees = {};

  before(async () => {
    root = newRoot('npm');
    npmDir = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-npmref-'));
    fsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-npmfs-'));
    fs.writeFileSync(path.join(fsDir, 'hello.txt'), 'hi\n');
    // npm's answer for each package, at the same moment, in parallel.
    await Promise.all(SERVERS.map(async (s) => {
      const dir = path.join(npmDir, s.name);
      fs.mkdirSync(dir);
      const r = await run('npm', ['install', '--omit=dev', '--ignore-scripts', '--no-audit',
        '--no-fund', '--loglevel=error', s.pkg], { cwd: dir, timeout: 240000 });
      expectExit(r, 0, `npm install ${s.pkg}`);
      npmTrees[s.name] = treeSet(path.join(dir, 'node_modules'));
    }));
  });

  after(async () => {
    if (daemon) await daemon.kill();
    cleanupRoot(root);
    fs.rmSync(npmDir, { recursive: true, force: true });
    fs.rmSync(fsDir, { recursive: true, force: true });
  });

  for (const s of SERVERS) {
    test(`${s.pkg}: same tree as npm, lock recorded`, async () => {
      // server-filesystem takes its directory after "--"; the default sandbox
      // profile does not expose arbitrary host directories, hence "none".
      const extra = s.name === 'filesystem' ? ['--sandbox', 'none', '--', fsDir] : [];
      const r = await corral(['install', `npm:${s.pkg}`, '--yes', '--json', ...extra],
        { root, timeout: 240000 });
      expectExit(r, 0, `install ${s.pkg}`);
      const m = JSON.parse(r.stdout);
      const pkg = path.join(root, 'servers', s.name, 'pkg');
      const mine = treeSet(path.join(pkg, 'node_modules'));
      assert.deepEqual(mine, npmTrees[s.name], `tree of ${s.pkg} differs from npm's`);
      // The lock lists every installed package with its URL and integrity.
      const locked = m.source.lock.map((l) => `${l.name}@${l.version}`).sort();
      assert.deepEqual([...new Set(locked)], mine);
      for (const l of m.source.lock) {
        assert.match(l.integrity, /^sha(512|1)-/, `${l.name}: integrity`);
        assert.match(l.resolved, /^https:\/\/registry\.npmjs\.org\//, `${l.name}: resolved`);
        assert.ok(fs.existsSync(path.join(pkg, l.path, 'package.json')), `${l.path} missing`);
      }
      assert.equal(m.runtime.command[0], 'node');
      assert.match(m.runtime.command[1], new RegExp(`^node_modules/${s.pkg}/`));
      if (s.name === 'filesystem') assert.equal(m.runtime.command.at(-1), fsDir);
      assert.ok(m.source.resolved.version, 'resolved version');
      // Files are 0644/0755, never setuid.
      const st = fs.statSync(path.join(pkg, 'node_modules', s.pkg, 'package.json'));
      assert.equal(st.mode & 0o7777, 0o644);
    });
  }

  test('each server answers tools/list through the gateway', async () => {
    for (const s of SERVERS) {
      assert.ok(fs.existsSync(path.join(root, 'servers', s.name)), `${s.name} not installed`);
    }
    daemon = await startDaemon(root);
    await waitReady(root, SERVERS.map((s) => s.name), 120000);
    const c = await McpClient.connect(socketPath(root));
    try {
      await c.initialize();
      const tools = await c.waitTools((n) => SERVERS.every((s) => n.includes(s.tool)),
        'a tool of every npm-installed server');
      const names = tools.map((t) => t.name);
      for (const s of SERVERS) assert.ok(names.includes(s.tool), `${s.tool} missing`);
    } finally {
      await c.close();
    }
  });

  test('a second install of the same tree downloads no tarball (--offline works)', async () => {
    const r = await corral(['install', 'npm:@modelcontextprotocol/server-memory', '--name',
      'memory2', '--yes', '--offline'], { root, timeout: 120000 });
    expectExit(r, 0, 'offline reinstall');
    assert.deepEqual(treeSet(path.join(root, 'servers/memory2/pkg/node_modules')),
      npmTrees.memory);
  });
});
