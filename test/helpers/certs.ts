import { execFileSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Certs { ca: string; caKey: string; serverCert: string; serverKey: string; clientCert: string; clientKey: string }

const ssl = (args: string[], cwd: string) => execFileSync('openssl', args, { cwd, stdio: 'pipe' });

/** A private test CA, a server certificate for localhost/127.0.0.1 and a client certificate (openssl CLI). */
export function makeCerts(dir: string): Certs {
  const c: Certs = {
    ca: join(dir, 'ca.pem'), caKey: join(dir, 'ca.key'),
    serverCert: join(dir, 'server.pem'), serverKey: join(dir, 'server.key'),
    clientCert: join(dir, 'client.pem'), clientKey: join(dir, 'client.key'),
  };
  if (existsSync(c.clientCert)) return c;
  ssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', c.caKey, '-out', c.ca, '-days', '30', '-subj', '/CN=siem-agent test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
  const leaf = (name: 'server' | 'client', ext: string) => {
    writeFileSync(join(dir, `${name}.ext`), ext);
    ssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, `${name}.key`), '-out', join(dir, `${name}.csr`), '-subj', `/CN=${name === 'server' ? 'localhost' : 'siem-agent'}`], dir);
    ssl(['x509', '-req', '-in', join(dir, `${name}.csr`), '-CA', c.ca, '-CAkey', c.caKey, '-CAcreateserial', '-out', join(dir, `${name}.pem`), '-days', '30', '-extfile', join(dir, `${name}.ext`)], dir);
  };
  leaf('server', 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n');
  leaf('client', 'extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n');
  return c;
}
