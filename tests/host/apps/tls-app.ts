// An unmodified program that talks TLS to servers outside it (tls-server.ts, another process,
// at TLS_PORT, HTTPS_PORT and STARTTLS_PORT): tls.connect with its callback, 'data' and the
// session's state; a refused certificate; an https request through https.Agent; fetch over https
// (the certificate authority from NODE_EXTRA_CA_CERTS); and STARTTLS, tls.connect({ socket }) on a
// `net` socket after a plain exchange. Under `--import wasinet/register` with
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

/** Three requests through an agent that keeps no connection: the second and third resume the first's session. */
async function resumed(): Promise<void> {
  const agent = new https.Agent({ keepAlive: false });
  for (let i = 0; i < 3; i++) {
    await new Promise<void>((resolve, reject) => {
      https.get({ port: httpsPort, host: 'localhost', path: `/again${i}`, ca, agent }, (res) => {
        const reused = (res.socket as tls.TLSSocket).isSessionReused();
        res.resume();
        res.on('end', () => { log(`https /again${i} ${res.statusCode} session reused=${reused}`); resolve(); });
      }).on('error', reject);
    });
  }
}

function starttls(): Promise<void> {
  return new Promise((resolve) => {
    const plain = net.connect(Number(process.env.STARTTLS_PORT), 'localhost');
    plain.setEncoding('utf8');
    plain.once('data', (greeting: string) => {
      log(`plain ${greeting.trim()}`);
      plain.write('STARTTLS\r\n');
      plain.once('data', (go: string) => {
        log(`plain ${go.trim()}`);
        const t = tls.connect({ socket: plain, ca }, () => {
          log(`starttls secureConnect authorized=${t.authorized} protocol=${t.getProtocol()} peer=${t.getPeerCertificate().subject.CN}`);
          t.end('mail from the program');
        });
        t.setEncoding('utf8');
        t.on('data', (d: string) => log(`starttls data ${d}`));
        t.on('close', () => { log(`starttls close; plain destroyed=${plain.destroyed}`); resolve(); });
      });
    });
  });
}

async function main(): Promise<void> {
  await session();
  await refused();
  await request();
  await resumed();
  const res = await fetch(`https://localhost:${httpsPort}/fetch`);
  log(`fetch ${res.status} ${await res.text()}`);
  await starttls();
  for (const line of out) console.log(line);
}

main().catch((err) => { console.log('failed', err); process.exitCode = 2; });
