// The npm corpus (`make check-npm-corpus`; `make check` runs it once, not
// under ASan): popular MCP servers from the npm registry, each installed by
// corral and by `npm install --omit=dev --ignore-scripts` in the same run,
// compared place by place (the relative path of every package directory and
// its name@version).  Every server must give npm's exact tree.
//
// Both sides keep their caches between runs outside the tree
// ($CORRAL_CORPUS_CACHE, default /var/cache/corral-ci/npm-corpus when
// writable, else $XDG_CACHE_HOME/corral-ci/npm-corpus), so a rerun revalidates
// metadata and downloads almost nothing.  npm talks to registry.npmjs.org
// only.  $CORRAL_CORPUS (a comma-separated list) runs a subset; `quick` runs
// QUICK, the servers that `make check` compares (the whole corpus takes
// minutes of npm installs: `make check-npm-corpus`).

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { REPO, corral, expectExit, run } from '../lib.mjs';

const { places, placeDiff } = await import(path.join(REPO, 'tests/fixtures/npm-registry/places.mjs'));

export const CORPUS = [
  // The fifteen of issue 20.
  '@playwright/mcp',
  '@upstash/context7-mcp',
  'mcp-remote',
  '@notionhq/notion-mcp-server',
  '@supabase/mcp-server-supabase',
  'exa-mcp-server',
  'tavily-mcp',
  'figma-developer-mcp',
  '@modelcontextprotocol/server-github',
  '@modelcontextprotocol/server-puppeteer',
  '@modelcontextprotocol/server-brave-search',
  'firecrawl-mcp',
  '@heroku/mcp-server',
  'chrome-devtools-mcp',
  '@azure/mcp',
  // More of the most depended-upon MCP servers.
  '@modelcontextprotocol/server-everything',
  '@modelcontextprotocol/server-memory',
  '@modelcontextprotocol/server-filesystem',
  '@modelcontextprotocol/server-sequential-thinking',
  '@modelcontextprotocol/server-slack',
  '@modelcontextprotocol/server-postgres',
  '@modelcontextprotocol/server-gitlab',
  '@modelcontextprotocol/server-google-maps',
  '@modelcontextprotocol/server-redis',
  '@browsermcp/mcp',
  '@21st-dev/magic',
  '@sentry/mcp-server',
  '@stripe/mcp',
  'mongodb-mcp-server',
  '@executeautomation/playwright-mcp-server',
  '@wonderwhy-er/desktop-commander',
  'mcp-server-kubernetes',
  '@circleci/mcp-server-circleci',
];

// One server for each placement rule that once gave a different tree (peer
// replacement: exa, context7; peer-aware placement: notion; optional packages
// of other platforms: playwright, azure) and the reference servers.
export const QUICK = [
  'exa-mcp-server',
  '@upstash/context7-mcp',
  '@notionhq/notion-mcp-server',
  '@playwright/mcp',
  '@azure/mcp',
  'mcp-remote',
  '@modelcontextprotocol/server-everything',
  '@modelcontextprotocol/server-filesystem',
];

export const REGISTRY = 'https://registry.npmjs.org/';

export function corpusCache() {
  if (process.env.CORRAL_CORPUS_CACHE) return process.env.CORRAL_CORPUS_CACHE;
  const sys = '/var/cache/corral-ci/npm-corpus';
  try {
    fs.mkdirSync(sys, { recursive: true });
    fs.accessSync(sys, fs.constants.W_OK);
    return sys;
  } catch {
    const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
    return path.join(base, 'corral-ci', 'npm-corpus');
  }
}

const selected = !process.env.CORRAL_CORPUS ? CORPUS
  : process.env.CORRAL_CORPUS === 'quick' ? QUICK
    : process.env.CORRAL_CORPUS.split(',').filter(Boolean);
const dirName = (pkg) => pkg.replace(/^@/, '').replace(/\//g, '__');

describe('npm corpus: corral builds npm\'s exact tree', { timeout: 3600000 }, () => {
  const cache = corpusCache();
  const root = path.join(cache, 'corral-root'); // its cache/ persists
  let work;
  const npmTrees = new Map();
  const npmFailures = new Map();

  before(async () => {
    fs.mkdirSync(cache, { recursive: true });
    fs.rmSync(path.join(root, 'servers'), { recursive: true, force: true });
    fs.rmSync(path.join(root, 'staging'), { recursive: true, force: true });
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-corpus-'));
    // npm's trees, two at a time (a 2-core machine), at the same moment.
    const queue = [...selected];
    const worker = async () => {
      for (let pkg = queue.shift(); pkg; pkg = queue.shift()) {
        const dir = path.join(work, 'npm', dirName(pkg));
        fs.mkdirSync(dir, { recursive: true });
        const r = await run('npm', ['install', '--omit=dev', '--ignore-scripts', '--no-audit',
          '--no-fund', '--no-update-notifier', '--loglevel=error', `--registry=${REGISTRY}`,
          '--cache', path.join(cache, 'npm-cache'), pkg], { cwd: dir, timeout: 900000 });
        if (r.code !== 0) npmFailures.set(pkg, r.stderr.slice(-2000));
        else npmTrees.set(pkg, places(path.join(dir, 'node_modules')));
      }
    };
    await Promise.all([worker(), worker()]);
  });

  after(() => {
    fs.rmSync(path.join(root, 'servers'), { recursive: true, force: true });
    // npm's 33 trees take minutes to unlink on a slow disk: removed in the
    // background, after the suite.
    if (work) spawn('rm', ['-rf', work], { detached: true, stdio: 'ignore' }).unref();
  });

  for (const pkg of selected) {
    test(`${pkg}: the same tree as npm, place by place`, async () => {
      assert.ok(!npmFailures.has(pkg), `npm install ${pkg} failed:\n${npmFailures.get(pkg)}`);
      const name = dirName(pkg).replace(/_/g, '-').slice(0, 60);
      const r = await corral(['install', `npm:${pkg}`, '--name', name, '--yes', '--json',
        '--sandbox', 'none', '--registry', REGISTRY], { root, timeout: 900000 });
      expectExit(r, 0, `corral install ${pkg}`);
      const mine = places(path.join(root, 'servers', name, 'pkg', 'node_modules'));
      const d = placeDiff(npmTrees.get(pkg), mine);
      assert.deepEqual({ npmOnly: d.onlyA, corralOnly: d.onlyB }, { npmOnly: [], corralOnly: [] },
        `${pkg}: places differ from npm's`);
      // Every installed place is in the lock, with its path.
      const m = JSON.parse(r.stdout);
      const locked = new Set(m.source.lock.filter((l) => !l.inert)
        .map((l) => `${l.path} ${l.name}@${l.version}`));
      for (const p of mine) assert.ok(locked.has(p), `${p} not in the lock`);
      fs.rmSync(path.join(root, 'servers', name), { recursive: true, force: true });
    });
  }
});
