// The Debian packages the end-to-end tests need, and installing the missing
// ones with apt-get. scripts/test.mjs (so `npm test`) runs this before any
// test, and .ci/run runs it for every package: one implementation for both.
//
// Present packages cost no apt call (a file check, one Python start).
// Missing ones are installed when this process is root or has password-less
// sudo, saying so on stdout; otherwise it fails at once with the exact
// command to run. It never lets a test be skipped.
//
//   node scripts/system-deps.mjs          check/install every package
//   node scripts/system-deps.mjs --list   print the packages and the test files that need them
//
// SWITCHBOARD_SYSTEM_DEPS_ASSUME_MISSING=chromium,redis-server treats those
// packages as missing at the first check, to try the install path (and its
// messages) on a machine that has them; the check after apt-get is real.
import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { pathToFileURL } from 'node:url';

/** Where an executable named `name` is on PATH, or undefined. */
export function onPath(name, path = process.env.PATH ?? '') {
  for (const dir of path.split(delimiter)) {
    if (dir === '') continue;
    const file = join(dir, name);
    if (isExecutable(file)) return file;
  }
  return undefined;
}

function isExecutable(file) {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

// Its own test checks the everything-present case on this machine.
const SELF_TEST = 'test/scripts/system-deps.test';

/**
 * Each package: its Debian name, the test files that need it (any path
 * containing one of `neededBy`), and `problem()`, which says why it is not
 * usable (undefined when it is). `installable: false` problems are ones
 * apt-get cannot fix (a CHROMIUM_PATH pointing nowhere).
 */
export const SYSTEM_PACKAGES = [
  {
    name: 'chromium',
    neededBy: ['chromium', 'test/playground/', SELF_TEST],
    problem(env = process.env) {
      // test/helpers/chromium.ts launches CHROMIUM_PATH, else Debian's /usr/bin/chromium.
      if (env.CHROMIUM_PATH) {
        return isExecutable(env.CHROMIUM_PATH)
          ? undefined
          : { installable: false, text: `CHROMIUM_PATH=${env.CHROMIUM_PATH} is not an executable file: point it at a Chromium, or unset it to use Debian's /usr/bin/chromium` };
      }
      return isExecutable('/usr/bin/chromium') ? undefined : { installable: true, text: '/usr/bin/chromium does not exist' };
    },
  },
  {
    name: 'python3-websockets',
    neededBy: ['test/interop/python', SELF_TEST],
    problem() {
      // The tests use the first of these that can import websockets (PATH may hold a Python without Debian's packages).
      for (const python of ['python3', '/usr/bin/python3']) {
        if (spawnSync(python, ['-c', 'import websockets'], { stdio: 'ignore', timeout: 15_000 }).status === 0) return undefined;
      }
      return { installable: true, text: 'neither python3 nor /usr/bin/python3 can import websockets' };
    },
  },
  {
    name: 'tmux',
    // The interactive `connect` is driven through a real pseudo-terminal: test/cli/interactive.test.ts runs Debian's /usr/bin/tmux.
    neededBy: ['test/cli/interactive', 'test/cli/serve-interactive', SELF_TEST],
    problem() {
      return isExecutable('/usr/bin/tmux') ? undefined : { installable: true, text: '/usr/bin/tmux does not exist' };
    },
  },
  {
    name: 'openssl',
    // Tests that serve or connect over TLS make a certificate at run time (test/helpers/tls.ts and a few of their own).
    neededBy: ['test/cli/', 'test/node/server', 'test/node/client', 'http2', SELF_TEST],
    problem() {
      return onPath('openssl') ? undefined : { installable: true, text: 'no openssl on PATH' };
    },
  },
  {
    name: 'redis-server',
    neededBy: ['test/redis/', 'redis', SELF_TEST],
    problem() {
      return onPath('redis-server') && onPath('redis-cli') ? undefined : { installable: true, text: 'no redis-server or redis-cli on PATH' };
    },
  },
  {
    name: 'nginx',
    // test/redis/load-balancers.test.ts runs Debian's nginx in front of two hub nodes, with examples/deploy/nginx.conf.
    neededBy: ['test/redis/load-balancers', SELF_TEST],
    problem() {
      return isExecutable('/usr/sbin/nginx') ? undefined : { installable: true, text: '/usr/sbin/nginx does not exist' };
    },
  },
  {
    name: 'haproxy',
    // The same test with examples/deploy/haproxy.cfg.
    neededBy: ['test/redis/load-balancers', SELF_TEST],
    problem() {
      return isExecutable('/usr/sbin/haproxy') ? undefined : { installable: true, text: '/usr/sbin/haproxy does not exist' };
    },
  },
  {
    name: 'prometheus',
    // The Grafana dashboard's queries are run by a real Prometheus scraping `switchboard serve --metrics` (test/metrics/grafana-dashboard.test.ts).
    neededBy: ['test/metrics/grafana', SELF_TEST],
    problem() {
      return onPath('prometheus') ? undefined : { installable: true, text: 'no prometheus on PATH' };
    },
  },
];

/** The packages the given test files need (every package when `all`). */
export function packagesFor(files, all = false) {
  return SYSTEM_PACKAGES.filter((p) => all || files.some((f) => p.neededBy.some((s) => f.includes(s))));
}

/** Debian's commands that install `names`, as one shell line (prefixed with sudo when `sudo`). */
export function installCommand(names, sudo = false) {
  const s = sudo ? 'sudo ' : '';
  return `${s}apt-get update && ${s}env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${names.join(' ')}`;
}

/**
 * What to do about `missing` (packages with their problems): nothing, fail
 * with a message, or run `commands` (argv arrays). Pure, so the decisions are
 * tested without a machine to break (test/scripts/system-deps.test.ts).
 */
export function plan(missing, { isRoot, sudoWorks, aptGet }) {
  if (missing.length === 0) return { action: 'none' };
  const fixedByHand = missing.filter((m) => !m.problem.installable);
  if (fixedByHand.length) {
    return { action: 'fail', message: fixedByHand.map((m) => `${m.name}: ${m.problem.text}`).join('\n') };
  }
  const names = missing.map((m) => m.name);
  const why = missing.map((m) => `  ${m.name}: ${m.problem.text}`).join('\n');
  if (!aptGet) {
    return {
      action: 'fail',
      message:
        `the tests need these Debian packages, and this machine has no apt-get to install them:\n${why}\n` +
        `On Debian or Ubuntu run, as root:\n  ${installCommand(names)}\n` +
        'Elsewhere install their equivalents (a Chromium at /usr/bin/chromium or named by CHROMIUM_PATH, Python 3 with the websockets package, tmux at /usr/bin/tmux, redis-server and prometheus on PATH, nginx and haproxy in /usr/sbin).',
    };
  }
  if (!isRoot && !sudoWorks) {
    return {
      action: 'fail',
      message:
        `the tests need these Debian packages, and installing them needs root (this user is not root and has no password-less sudo):\n${why}\n` +
        `Run, as root:\n  ${installCommand(names)}\nor, with sudo:\n  ${installCommand(names, true)}\nthen run the tests again.`,
    };
  }
  const prefix = isRoot ? [] : ['sudo'];
  return {
    action: 'install',
    names,
    commands: [
      [...prefix, aptGet, 'update'],
      // env: sudo resets the environment, and apt must not stop to ask anything.
      [...prefix, 'env', 'DEBIAN_FRONTEND=noninteractive', aptGet, 'install', '-y', '--no-install-recommends', ...names],
    ],
  };
}

function problemsOf(packages, assumeMissing = new Set()) {
  const missing = [];
  for (const p of packages) {
    const problem = assumeMissing.has(p.name) ? { installable: true, text: 'assumed missing (SWITCHBOARD_SYSTEM_DEPS_ASSUME_MISSING)' } : p.problem();
    if (problem) missing.push({ name: p.name, problem });
  }
  return missing;
}

/**
 * Makes sure `packages` are usable, installing what is missing. Returns true
 * when they all are; prints why not (to stderr) and returns false otherwise.
 */
export function ensureSystemPackages(packages, { log = (line) => console.log(line), env = process.env } = {}) {
  if (packages.length === 0) return true;
  const assumeMissing = new Set((env.SWITCHBOARD_SYSTEM_DEPS_ASSUME_MISSING ?? '').split(',').filter(Boolean));
  const missing = problemsOf(packages, assumeMissing);
  const isRoot = process.getuid?.() === 0;
  const decision = plan(missing, {
    isRoot,
    sudoWorks: !isRoot && missing.length > 0 && onPath('sudo') !== undefined && spawnSync('sudo', ['-n', 'true'], { stdio: 'ignore' }).status === 0,
    aptGet: missing.length > 0 ? onPath('apt-get') : undefined,
  });
  if (decision.action === 'none') {
    log(`system packages: ${packages.map((p) => p.name).join(', ')} present`);
    return true;
  }
  if (decision.action === 'fail') {
    console.error(`\nerror: ${decision.message}\n`);
    return false;
  }
  log(`system packages: installing ${decision.names.join(', ')} (missing: ${missing.map((m) => `${m.name}: ${m.problem.text}`).join('; ')})`);
  for (const argv of decision.commands) {
    log(`+ ${argv.join(' ')}`);
    // apt-get's own output goes to stdout too, so the log says what happened.
    const r = spawnSync(argv[0], argv.slice(1), { stdio: 'inherit' });
    if (r.status !== 0) {
      console.error(`\nerror: \`${argv.join(' ')}\` failed (${r.error?.message ?? `exit ${r.status ?? r.signal}`}); install the packages by hand:\n  ${installCommand(decision.names, argv[0] === 'sudo')}\n`);
      return false;
    }
  }
  const still = problemsOf(packages.filter((p) => decision.names.includes(p.name)));
  if (still.length) {
    console.error(`\nerror: still missing after apt-get install:\n${still.map((m) => `  ${m.name}: ${m.problem.text}`).join('\n')}\n`);
    return false;
  }
  log(`system packages: installed ${decision.names.join(', ')}`);
  return true;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  if (process.argv.includes('--list')) {
    for (const p of SYSTEM_PACKAGES) console.log(`${p.name.padEnd(20)} test files whose path contains: ${p.neededBy.join(', ')}`);
  } else {
    process.exit(ensureSystemPackages(SYSTEM_PACKAGES) ? 0 : 1);
  }
}
