// git for the tests that serve repositories: an environment that ignores the
// machine's and the user's git config, and a runner that throws on failure.

import { spawnSync } from 'node:child_process';

/* process.env with HOME set and a fixed author/committer; no system config. */
export function gitEnv(home) {
  return {
    ...process.env, HOME: home, GIT_CONFIG_NOSYSTEM: '1',
    GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@example.org',
    GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@example.org',
  };
}

/* A function (cwd, ...args) running git in env; it returns the trimmed
 * stdout and throws with git's stderr when git fails. */
export function gitRunner(env) {
  return (cwd, ...args) => {
    const r = spawnSync('git', args, { cwd, env, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`git ${args.join(' ')} in ${cwd}: ${r.stderr}`);
    return r.stdout.trim();
  };
}
