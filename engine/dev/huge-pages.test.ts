import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { REPO_ROOT } from '../../test/support/goldens.js';
import { HUGE_PAGES_TUNABLE, hasHugePages, withHugePages } from './huge-pages.js';

const MODULE = new URL('./huge-pages.js', import.meta.url).href;

test('withHugePages keeps the tunables already set and adds the setting once', () => {
  assert.equal(withHugePages({}).GLIBC_TUNABLES, HUGE_PAGES_TUNABLE);
  const other = { GLIBC_TUNABLES: 'glibc.malloc.check=0', PATH: '/bin' };
  const env = withHugePages(other);
  assert.equal(env.GLIBC_TUNABLES, `glibc.malloc.check=0:${HUGE_PAGES_TUNABLE}`);
  assert.equal(env.PATH, '/bin');
  assert.equal(other.GLIBC_TUNABLES, 'glibc.malloc.check=0', 'the caller env is not changed');
  assert.equal(withHugePages(env), env);
  assert.ok(hasHugePages(env) && !hasHugePages(other) && !hasHugePages({ GLIBC_TUNABLES: 'x.hugetlb=10' }));
});

test('relaunchWithHugePages runs the script again with the setting, keeps its arguments and exit status', () => {
  // The relaunched child reports what it got, then allocates a 64 MiB array and says whether the
  // kernel gave it huge pages (where THP is switched off entirely it cannot).
  const script = `
    import { readFileSync } from 'node:fs';
    import { relaunchWithHugePages } from '${MODULE}';
    relaunchWithHugePages();
    new Int32Array(16 * 2 ** 20).fill(1);
    const huge = Number(/AnonHugePages:\\s+(\\d+)/.exec(readFileSync('/proc/self/smaps_rollup', 'utf8'))[1]);
    console.log(JSON.stringify({ tunables: process.env.GLIBC_TUNABLES, args: process.argv.slice(1), huge }));
    process.exit(3);`;
  const env = { ...process.env };
  delete env.GLIBC_TUNABLES;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script, 'a', 'b'], {
    env,
    encoding: 'utf8',
  });
  assert.equal(r.status, 3, r.stderr);
  const child = JSON.parse(r.stdout) as { tunables: string; args: string[]; huge: number };
  assert.equal(child.tunables, HUGE_PAGES_TUNABLE);
  assert.deepEqual(child.args, ['a', 'b']);
  const thp = readFileSync('/sys/kernel/mm/transparent_hugepage/enabled', 'utf8');
  if (thp.includes('[never]')) assert.equal(child.huge, 0);
  else assert.ok(child.huge >= 32 * 1024, `only ${child.huge} kB of the array in huge pages`);
});

test('bin/nnsam.js starts node with the setting (its shebang cannot import it, so it is checked here)', () => {
  const shebang = readFileSync(`${REPO_ROOT}bin/nnsam.js`, 'utf8').split('\n')[0];
  assert.match(shebang, /^#!\/usr\/bin\/env -S /);
  assert.ok(shebang.includes(`:${HUGE_PAGES_TUNABLE} node`), shebang);
  const r = spawnSync(`${REPO_ROOT}bin/nnsam.js`, ['--help'], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /commands:/);
});
