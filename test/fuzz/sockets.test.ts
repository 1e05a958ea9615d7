import { describe, test } from 'node:test';
import { socketTarget } from './targets/sockets.js';
import { clientSocketTarget } from './targets/client-socket.js';
import { fuzzBriefly } from './helpers.js';

// Each runs a server in a child process (uncaught exceptions and unhandled
// rejections make it exit non-zero), attacks it with short connections for
// a few seconds, then checks it is alive, grew by less than 64 MiB, and
// serves honest clients.

describe('fuzz: real servers on 127.0.0.1', () => {
  test('WebSocketServer echo: mutated handshakes and frame streams', { timeout: 60_000 }, async () => {
    await fuzzBriefly(socketTarget('echo'), 3_000, 3);
  });

  test('Hub: mutated handshakes, frames and hub messages', { timeout: 60_000 }, async () => {
    await fuzzBriefly(socketTarget('hub'), 3_000, 3);
  });
});

describe('fuzz: the WebSocket client against a fuzzing server', () => {
  test('mutated 101 answers, redirects, statuses and unmasked frame streams', { timeout: 60_000 }, async () => {
    await fuzzBriefly(clientSocketTarget, 3_000, 3);
  });
});
