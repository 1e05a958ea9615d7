// Where `serve` and `playground` listen, and how the listening line shows it.
// They bind 127.0.0.1 unless told otherwise (--host): a tutorial server, its
// playground and the playground's relay are for this machine, and exposing
// them to a network is a decision, not a default. The line shows the address
// actually bound (not the name given), and says so when that is every interface.
import type { AddressInfo } from 'node:net';

/** The address `serve` and `playground` bind when --host is not given. */
export const DEFAULT_HOST = '127.0.0.1';

export interface ListeningAddress {
  /** scheme://ADDRESS:PORT, with the address actually bound (IPv6 in brackets). */
  url: string;
  /** Bound to 0.0.0.0 or ::, i.e. reachable on every interface of the machine. */
  allInterfaces: boolean;
}

export function listeningAddress(scheme: 'ws' | 'wss' | 'http' | 'tcp', address: AddressInfo): ListeningAddress {
  const host = address.address;
  return {
    url: `${scheme}://${host.includes(':') ? `[${host}]` : host}:${address.port}`,
    allInterfaces: host === '0.0.0.0' || host === '::',
  };
}

/** "listening on ws://127.0.0.1:8082", or "... (all interfaces)" for a wildcard address. */
export function listeningLine({ url, allInterfaces }: ListeningAddress): string {
  return `listening on ${url}${allInterfaces ? ' (all interfaces)' : ''}`;
}
