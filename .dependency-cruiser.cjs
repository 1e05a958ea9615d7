// The layering of src/ and playground/, checked by dependency-cruiser
// (test/layering.test.ts runs it in `npm test`; `npx depcruise src playground`
// runs it by hand). Layers import only those below them:
//   src/protocol (sans-I/O) -> src/node -> src/hub -> src/cli (+ playground/)
// src/wire (the switchboard.v1 protocol, isomorphic) stands beside them, used by
// src/hub and by src/client, the browser client, which stands apart from the Node layers.
//
// KNOWN EXCEPTIONS are the imports the code has today that the layering of
// issue #14 forbids. Each is named in a rule's pathNot with a comment, so the
// check passes now and fails on any new violation; test/layering.test.ts also
// fails once an exception is no longer used, so that it is removed with the
// code that needed it.

/** Node built-ins that do I/O or keep time: never in the sans-I/O protocol layer. */
const NODE_IO = ['net', 'tls', 'http', 'https', 'http2', 'events', 'timers', 'timers/promises', 'stream', 'stream/promises', 'child_process', 'fs', 'fs/promises', 'dgram', 'dns', 'worker_threads', 'cluster', 'readline', 'process'];

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'protocol-no-node-io',
      comment: 'src/protocol is sans-I/O (bytes in, events and bytes out): no sockets, timers, EventEmitters, files or processes.',
      severity: 'error',
      from: { path: '^src/protocol/' },
      to: { dependencyTypes: ['core'], path: `^(node:)?(${NODE_IO.join('|')})$` },
    },
    {
      name: 'protocol-only-buffer-and-crypto',
      comment:
        'Of the Node built-ins, src/protocol uses only node:buffer (Buffer is its byte type) and node:crypto ' +
        '(SHA-1 for Sec-WebSocket-Accept, RFC 6455 section 4.2.2, and random masking keys and Sec-WebSocket-Key values): computation, not I/O.',
      severity: 'error',
      from: { path: '^src/protocol/' },
      to: { dependencyTypes: ['core'], pathNot: '^(node:)?(buffer|crypto)$' },
    },
    {
      name: 'protocol-imports-nothing-above',
      comment: 'src/protocol is the bottom layer.',
      severity: 'error',
      from: { path: '^src/protocol/' },
      to: { path: '^src/', pathNot: '^src/protocol/' },
    },
    {
      name: 'node-imports-only-protocol',
      comment: 'src/node builds on src/protocol (and Node built-ins) only.',
      severity: 'error',
      from: { path: '^src/node/' },
      to: { path: '^src/', pathNot: '^src/(node|protocol)/' },
    },
    {
      name: 'hub-imports-only-protocol-and-node',
      comment: 'src/hub builds on src/protocol, src/node and the switchboard.v1 module src/wire only.',
      severity: 'error',
      from: { path: '^src/hub/' },
      to: { path: '^src/', pathNot: '^src/(hub|node|protocol|wire)/' },
    },
    {
      name: 'wire-no-node',
      comment: 'The switchboard.v1 protocol (src/wire) is shared with the browser client: no node: module.',
      severity: 'error',
      from: { path: '^src/wire/' },
      to: { dependencyTypes: ['core'] },
    },
    {
      name: 'wire-imports-only-wire',
      comment:
        'src/wire is self-contained, so that a browser bundle or a third-party client takes it alone; ' +
        'of the rest it imports only the common error base class, a file that imports nothing.',
      severity: 'error',
      from: { path: '^src/wire/' },
      to: { path: '^src/', pathNot: '^src/(wire/|protocol/switchboard-error\\.ts$)' },
    },
    {
      name: 'client-no-node',
      comment: 'src/client runs in browsers: no node: module.',
      severity: 'error',
      from: { path: '^src/client/' },
      to: { dependencyTypes: ['core'] },
    },
    {
      name: 'client-imports-only-client',
      comment: 'src/client must not pull the Node layers into a browser bundle: it imports only itself and src/wire.',
      severity: 'error',
      from: { path: '^src/client/' },
      to: { path: '^src/', pathNot: '^src/(client|wire)/' },
    },
    {
      name: 'library-never-imports-cli',
      comment: 'Only src/cli imports src/cli: the library (protocol, node, hub, client) does not depend on the command.',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/cli/' },
      to: { path: '^src/cli/' },
    },
    {
      name: 'library-no-npm-dependencies',
      comment: 'The library has zero runtime dependencies: only node: built-ins (commander is the CLI\'s).',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/cli/' },
      to: { dependencyTypes: ['npm', 'npm-dev', 'npm-optional', 'npm-peer', 'npm-bundled', 'npm-no-pkg', 'npm-unknown'] },
    },
    {
      name: 'playground-no-cli-internals',
      comment: 'The playground page talks to the CLI only through its contract.',
      severity: 'error',
      from: { path: '^playground/' },
      // KNOWN EXCEPTION (issue #14: "The playground page imports its contract from
      // inside src/cli/"): playground/src imports src/cli/playground-protocol.ts.
      // Remove this pathNot when the contract moves out of src/cli.
      to: { path: '^src/cli/', pathNot: '^src/cli/playground-protocol\\.ts$' },
    },
    {
      name: 'playground-no-node-layers',
      comment: 'The playground is a browser page: nothing from the Node layers.',
      severity: 'error',
      from: { path: '^playground/src/' },
      to: { path: '^src/(protocol|node|hub)/' },
    },
    {
      name: 'no-unresolvable-imports',
      comment: 'An import the checker cannot resolve is one it cannot check.',
      severity: 'error',
      from: { path: '^(src|playground)/' },
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // type-only imports count too: they couple the layers' APIs.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.tsx', '.js', '.mjs', '.cjs', '.d.ts'],
    },
    exclude: { path: '(^|/)dist/' },
  },
};
