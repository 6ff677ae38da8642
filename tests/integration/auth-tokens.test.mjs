// `corral token create|list|revoke` the way a sysadmin uses them, with no
// daemon running (the verb writes the state database itself): the token is
// printed once, only its SHA-256 is stored (state.db, 0600), list never shows
// it, revoke removes it, and every bad input is one line with a sysexits
// code.  With a daemon running they go through it: http.test.mjs.

import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { EX, cleanupRoot, corral, expectExit, expectOneLineError, newRoot } from './lib.mjs';

describe('static API tokens', { timeout: 120000 }, () => {
  let root;

  before(() => {
    root = newRoot('tokens');
  });
  after(() => cleanupRoot(root));

  test('create prints the token once and stores only its hash', async () => {
    const r = expectExit(await corral(['token', 'create', '--user', 'ci-bot', '--level', 'trusted'], { root }), 0);
    const token = r.stdout.trim();
    assert.match(token, /^corral_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/);
    assert.match(r.stderr, /shown only once/);
    const file = path.join(root, 'state.db');
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    assert.ok(!fs.existsSync(path.join(root, 'tokens.json')));
    const raw = Buffer.concat([file, `${file}-wal`].filter((f) => fs.existsSync(f))
      .map((f) => fs.readFileSync(f)));
    assert.ok(!raw.includes(token.slice(20)), 'the secret is in state.db');
    assert.ok(raw.includes(crypto.createHash('sha256').update(token).digest('hex')),
      'the hash is not in state.db');

    const j = expectExit(await corral(['token', 'create', '--json', '--user', 'ops', '--level', 'anchor'], { root }), 0);
    const created = JSON.parse(j.stdout);
    assert.equal(created.user, 'ops');
    assert.equal(created.level, 'anchor');
    assert.notEqual(created.token, token);

    const l = expectExit(await corral(['token', 'list', '--json'], { root }), 0);
    const list = JSON.parse(l.stdout);
    assert.deepEqual(list.map((e) => e.user).sort(), ['ci-bot', 'ops']);
    assert.ok(!l.stdout.includes('sha256') && !l.stdout.includes(created.token));
    const table = expectExit(await corral(['token', 'list'], { root }), 0);
    assert.match(table.stdout, /^ID\s+LEVEL\s+CREATED\s+USER/);
    assert.match(table.stdout, new RegExp(`${created.id}\\s+anchor`));

    expectExit(await corral(['token', 'revoke', created.id], { root }), 0);
    const after1 = JSON.parse(expectExit(await corral(['token', 'list', '--json'], { root }), 0).stdout);
    assert.deepEqual(after1.map((e) => e.user), ['ci-bot']);
    const again = await corral(['token', 'revoke', created.id], { root });
    assert.equal(again.code, EX.NOINPUT);
    expectOneLineError(again, ['token', created.id]);
  });

  test('bad input is a usage error', async () => {
    for (const args of [
      ['token'],
      ['token', 'frob'],
      ['token', 'create', '--user', 'x'],
      ['token', 'create', '--user', 'x', '--level', 'root'],
      ['token', 'create', '--user', 'two words', '--level', 'public'],
      ['token', 'revoke'],
    ]) {
      const r = await corral(args, { root });
      assert.equal(r.code, 64, `${args.join(' ')}: exit ${r.code}`);
      expectOneLineError(r, ['token']);
    }
  });
});
