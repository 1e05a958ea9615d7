// A self-signed certificate for 127.0.0.1/localhost, made with openssl once per test process.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface KeyPair {
  key: Buffer;
  cert: Buffer;
  keyPath: string;
  certPath: string;
}

let made: KeyPair | null = null;

export function selfSignedCert(): KeyPair {
  if (made !== null) return made;
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-h2-tls-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  const keyPath = join(dir, 'key.pem');
  const certPath = join(dir, 'cert.pem');
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', keyPath, '-out', certPath, '-days', '2', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'],
    { stdio: 'ignore', timeout: 20_000 },
  );
  made = { key: readFileSync(keyPath), cert: readFileSync(certPath), keyPath, certPath };
  return made;
}
