/**
 * The stand-in for sshd and a web server inside each lab host: accepts on the given ports and
 * greets with an SSH banner, as a real sshd does, so `ssh` checks have something to read.
 * Runs as `node -e` in the host's namespace; prints one line once every port listens.
 */
export const LAB_SERVICE_SOURCE = `
const net = require('node:net');
const ports = process.argv.slice(1).map(Number);
let listening = 0;
for (const port of ports) {
  const server = net.createServer((s) => { s.on('error', () => {}); s.end('SSH-2.0-PalisadeLab\\r\\n'); });
  server.listen(port, '0.0.0.0', () => { if (++listening === ports.length) process.stdout.write('ready\\n'); });
}
`;
