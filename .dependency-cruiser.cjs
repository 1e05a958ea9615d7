// The layering of the workspace packages, checked by dependency-cruiser
// (test/layering.test.ts runs it in `npm test`; `npm run layers` runs it by
// hand). Layers import only those below them:
//   packages/switchboard/src: protocol (sans-I/O) -> node -> hub
//   packages/cli: src (the command) and playground (the page), on the library's public entry points
// wire (the switchboard.v1 protocol, isomorphic) stands beside them, used by
// hub and by client, the browser client, which stands apart from the Node layers.
// The page and the command share one contract, packages/cli/shared, which imports nothing.
//   packages/redis: the Redis adapter, on the library's public entry points too.
//   packages/metrics: the Prometheus metrics, on the library's public entry points too.

/** Node built-ins that do I/O or keep time: never in the sans-I/O protocol layer. */
const NODE_IO = ['net', 'tls', 'http', 'https', 'http2', 'events', 'timers', 'timers/promises', 'stream', 'stream/promises', 'child_process', 'fs', 'fs/promises', 'dgram', 'dns', 'worker_threads', 'cluster', 'readline', 'process'];

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'protocol-no-node-io',
      comment: 'src/protocol is sans-I/O (bytes in, events and bytes out): no sockets, timers, EventEmitters, files or processes.',
      severity: 'error',
      from: { path: '^packages/switchboard/src/protocol/' },
      to: { dependencyTypes: ['core'], path: `^(node:)?(${NODE_IO.join('|')})$` },
    },
    {
      name: 'protocol-only-buffer-and-crypto',
      comment:
        'Of the Node built-ins, src/protocol uses only node:buffer (Buffer is its byte type) and node:crypto ' +
        '(SHA-1 for Sec-WebSocket-Accept, RFC 6455 section 4.2.2, and random masking keys and Sec-WebSocket-Key values): computation, not I/O.',
      severity: 'error',
      from: { path: '^packages/switchboard/src/protocol/' },
      to: { dependencyTypes: ['core'], pathNot: '^(node:)?(buffer|crypto)$' },
    },
    {
      name: 'protocol-imports-nothing-above',
      comment: 'src/protocol is the bottom layer.',
      severity: 'error',
      from: { path: '^packages/switchboard/src/protocol/' },
      to: { path: '^packages/switchboard/src/', pathNot: '^packages/switchboard/src/protocol/' },
    },
    {
      name: 'node-imports-only-protocol',
      comment: 'src/node builds on src/protocol (and Node built-ins) only.',
      severity: 'error',
      from: { path: '^packages/switchboard/src/node/' },
      to: { path: '^packages/switchboard/src/', pathNot: '^packages/switchboard/src/(node|protocol)/' },
    },
    {
      name: 'hub-imports-only-protocol-and-node',
      comment: 'src/hub builds on src/protocol, src/node and the switchboard.v1 module src/wire only.',
      severity: 'error',
      from: { path: '^packages/switchboard/src/hub/' },
      to: { path: '^packages/switchboard/src/', pathNot: '^packages/switchboard/src/(hub|node|protocol|wire)/' },
    },
    {
      name: 'wire-no-node',
      comment: 'The switchboard.v1 protocol (src/wire) is shared with the browser client: no node: module.',
      severity: 'error',
      from: { path: '^packages/switchboard/src/wire/' },
      to: { dependencyTypes: ['core'] },
    },
    {
      name: 'wire-imports-only-wire',
      comment:
        'src/wire is self-contained, so that a browser bundle or a third-party client takes it alone; ' +
        'of the rest it imports only the common error base class, a file that imports nothing.',
      severity: 'error',
      from: { path: '^packages/switchboard/src/wire/' },
      to: { path: '^packages/switchboard/src/', pathNot: '^packages/switchboard/src/(wire/|protocol/switchboard-error\\.ts$)' },
    },
    {
      name: 'client-no-node',
      comment: 'src/client runs in browsers: no node: module.',
      severity: 'error',
      from: { path: '^packages/switchboard/src/client/' },
      to: { dependencyTypes: ['core'] },
    },
    {
      name: 'client-imports-only-client',
      comment: 'src/client must not pull the Node layers into a browser bundle: it imports only itself and src/wire.',
      severity: 'error',
      from: { path: '^packages/switchboard/src/client/' },
      to: { path: '^packages/switchboard/src/', pathNot: '^packages/switchboard/src/(client|wire)/' },
    },
    {
      name: 'library-never-imports-cli',
      comment: 'The library (protocol, node, hub, wire, client) does not depend on the command or the page.',
      severity: 'error',
      from: { path: '^packages/switchboard/' },
      to: { path: '^packages/cli/' },
    },
    {
      name: 'library-no-npm-dependencies',
      comment: 'The library has zero runtime dependencies: only node: built-ins (commander is the CLI\'s).',
      severity: 'error',
      from: { path: '^packages/switchboard/src/' },
      to: { dependencyTypes: ['npm', 'npm-dev', 'npm-optional', 'npm-peer', 'npm-bundled', 'npm-no-pkg', 'npm-unknown'] },
    },
    {
      name: 'playground-no-cli-internals',
      comment: 'The playground page talks to the CLI only through their contract, packages/cli/shared.',
      severity: 'error',
      from: { path: '^packages/cli/playground/' },
      to: { path: '^packages/cli/src/' },
    },
    {
      name: 'playground-no-node-layers',
      comment: 'The playground is a browser page: nothing from the Node layers.',
      severity: 'error',
      from: { path: '^packages/cli/playground/' },
      to: { path: '^packages/switchboard/src/(protocol|node|hub)/' },
    },
    {
      name: 'cli-uses-the-public-api',
      comment:
        'The CLI is an application of the library: it imports what a user can (the entry points ' +
        "'switchboard', 'switchboard/hub', ...), never a module inside the package.",
      severity: 'error',
      from: { path: '^packages/cli/' },
      to: { path: '^packages/switchboard/src/', pathNot: '^packages/switchboard/src/(index\\.ts|[a-z]+/index\\.ts)$' },
    },
    {
      name: 'redis-uses-the-public-api',
      comment:
        'The Redis adapter (packages/redis) builds on the library as any adapter would: through its entry ' +
        "points ('switchboard/hub'), never a module inside the package.",
      severity: 'error',
      from: { path: '^packages/redis/' },
      to: { path: '^packages/switchboard/src/', pathNot: '^packages/switchboard/src/(index\\.ts|[a-z]+/index\\.ts)$' },
    },
    {
      name: 'library-never-imports-redis',
      comment: 'The library knows adapters only by the Adapter interface: it does not depend on the Redis adapter (nor on its Redis client).',
      severity: 'error',
      from: { path: '^packages/switchboard/' },
      to: { path: '^packages/redis/' },
    },
    {
      name: 'metrics-uses-the-public-api',
      comment:
        'The Prometheus metrics (packages/metrics) read the library through its entry points and its diagnostics ' +
        'channels (by name), never a module inside the package.',
      severity: 'error',
      from: { path: '^packages/metrics/' },
      to: { path: '^packages/switchboard/src/', pathNot: '^packages/switchboard/src/(index\\.ts|[a-z]+/index\\.ts)$' },
    },
    {
      name: 'library-never-imports-metrics',
      comment: 'The library publishes on diagnostics channels and depends on nothing: it never imports the metrics package (nor prom-client).',
      severity: 'error',
      from: { path: '^packages/switchboard/' },
      to: { path: '^packages/metrics/' },
    },
    {
      name: 'contract-stands-alone',
      comment: 'packages/cli/shared is read by the command (Node) and the page (browser): it imports nothing.',
      severity: 'error',
      from: { path: '^packages/cli/shared/' },
      to: { pathNot: '^packages/cli/shared/' },
    },
    {
      name: 'no-unresolvable-imports',
      comment: 'An import the checker cannot resolve is one it cannot check.',
      severity: 'error',
      from: { path: '^packages/(switchboard|cli|redis|metrics)/' },
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // type-only imports count too: they couple the layers' APIs.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.layers.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.tsx', '.js', '.mjs', '.cjs', '.d.ts'],
    },
    exclude: { path: '(^|/)dist/' },
  },
};
