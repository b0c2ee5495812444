/** Which port plays which service in a lab host (and, by assumption, in a simulated one). */
export interface ServicePorts {
  /** TCP ports that greet with an SSH identification line, as sshd does. */
  ssh: readonly number[];
  /** TCP ports with an HTTP server: 200 on `/`, 404 anywhere else. */
  http: readonly number[];
  /** UDP ports with a DNS responder: an empty NOERROR answer to any well-formed query. */
  dns: readonly number[];
}

/** `ssh:22 http:80 …`: the service's command line. */
export const serviceArgs = (services: ServicePorts): string[] =>
  (['ssh', 'http', 'dns'] as const).flatMap((role) => services[role].map((port) => `${role}:${port}`));

/**
 * The stand-in for sshd, a web server and a DNS server inside each lab host, so every check kind
 * has something real to reach. Runs as `node -e` in the host's namespace with `role:port`
 * arguments; prints one line once every socket listens. The DNS answer echoes the question with
 * QR, AA and RD (copied) set and no records: well-formed, and small enough to write by hand.
 */
export const LAB_SERVICE_SOURCE = `
const net = require('node:net'), http = require('node:http'), dgram = require('node:dgram');
const specs = process.argv.slice(1).map((a) => a.split(':'));
let listening = 0;
const ready = () => { if (++listening === specs.length) process.stdout.write('ready\\n'); };
const dns = (m) => {
  if (m.length < 12) return null;
  let i = 12;
  while (i < m.length && m[i] !== 0 && i < 12 + 255) i += m[i] + 1;
  if (m[i] !== 0 || m.length < i + 5) return null;
  const r = Buffer.from(m.subarray(0, i + 5));
  r[2] = 0x84 | (r[2] & 0x01); r[3] = 0; r.writeUInt16BE(1, 4); r.fill(0, 6, 12);
  return r;
};
for (const [role, p] of specs) {
  const port = Number(p);
  if (role === 'dns') {
    const s = dgram.createSocket('udp4');
    s.on('message', (m, from) => { const r = dns(m); if (r) s.send(r, from.port, from.address); });
    s.bind(port, '0.0.0.0', ready);
  } else if (role === 'http') {
    http.createServer((req, res) => { res.statusCode = req.url === '/' ? 200 : 404; res.end(); }).listen(port, '0.0.0.0', ready);
  } else {
    net.createServer((s) => { s.on('error', () => {}); s.end('SSH-2.0-PalisadeLab\\r\\n'); }).listen(port, '0.0.0.0', ready);
  }
}
`;
