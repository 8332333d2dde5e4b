// An unmodified program that talks TLS to servers outside it (tls-server.ts, another process,
// at TLS_PORT and HTTPS_PORT): tls.connect with its callback, 'data' and the session's state;
// a refused certificate; an https request through https.Agent; and fetch over https (the
// certificate authority from NODE_EXTRA_CA_CERTS). Under `--import wasinet/register` with
// WASINET_RECORD or WASINET_REPLAY the sessions run below wasinet's core (host/net/tls.ts): a
// recording keeps their plaintext, and a replay gives this program the same lines offline.
import tls from 'node:tls';
import https from 'node:https';
import net from 'node:net';
import { readFileSync } from 'node:fs';

const ca = readFileSync(process.env.TLS_CA!);
const tlsPort = Number(process.env.TLS_PORT);
const httpsPort = Number(process.env.HTTPS_PORT);
const out: string[] = [];
const log = (line: string): void => { out.push(line); if (process.env.TLS_APP_TRACE) console.error(line); };

function session(): Promise<void> {
  return new Promise((resolve) => {
    const c = tls.connect({ port: tlsPort, host: 'localhost', ca, ALPNProtocols: ['echo'] }, () => {
      const cert = c.getPeerCertificate(true) as tls.DetailedPeerCertificate;
      log(`secureConnect authorized=${c.authorized} alpn=${c.alpnProtocol} protocol=${c.getProtocol()} cipher=${c.getCipher().name}`);
      log(`peer CN=${cert.subject.CN} self-issued=${cert.issuerCertificate === cert} raw=${cert.raw.length} bytes x509=${c.getPeerX509Certificate()?.subject.replace(/\n/g, ',')}`);
      log(`instanceof tls.TLSSocket=${c instanceof tls.TLSSocket} net.Socket=${c instanceof net.Socket} encrypted=${c.encrypted}`);
      // Whose session this is (stderr: the lines on stdout are the same either way).
      console.error(`session below wasinet's core: ${Object.getPrototypeOf(c) !== tls.TLSSocket.prototype}`);
      c.write('hello over tls');
    });
    c.setEncoding('utf8');
    c.on('data', (d: string) => {
      log(`data ${d}`);
      if (d === 'echo:hello over tls') c.end('bye');
    });
    c.on('end', () => log('end'));
    c.on('close', (hadError) => { log(`close ${hadError}`); resolve(); });
  });
}

function refused(): Promise<void> {
  return new Promise((resolve) => {
    // A name the certificate is not for: refused (ERR_TLS_CERT_ALTNAME_INVALID) once TCP connected.
    const c = tls.connect({ port: tlsPort, host: 'localhost', ca, servername: 'elsewhere.test' });
    c.on('connect', () => log('refused: connect'));
    c.on('secureConnect', () => log('refused: secureConnect?'));
    c.on('error', (e: NodeJS.ErrnoException) => log(`refused: error ${e.code} ${e.message}`));
    c.on('close', (hadError) => { log(`refused: close ${hadError}`); resolve(); });
  });
}

function request(): Promise<void> {
  return new Promise((resolve, reject) => {
    https.get({ port: httpsPort, host: 'localhost', path: '/agent', ca }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { body += d; });
      const encrypted = (res.socket as tls.TLSSocket).encrypted;
      res.on('end', () => { log(`https ${res.statusCode} ${body} encrypted=${encrypted}`); resolve(); });
    }).on('error', reject);
  });
}

async function main(): Promise<void> {
  await session();
  await refused();
  await request();
  const res = await fetch(`https://localhost:${httpsPort}/fetch`);
  log(`fetch ${res.status} ${await res.text()}`);
  for (const line of out) console.log(line);
}

main().catch((err) => { console.log('failed', err); process.exitCode = 2; });
