// The runtime ceiling: a bare node:net server answering every request with a canned
// 1 KB 200 response. Parsing is minimal: count "\r\n\r\n" per chunk (with a 3-byte
// carry-over across chunks) and honour "Connection: close" so that wrk's new-connection
// workload really reconnects.
// Usage: node bench/servers/ceiling.js --port <p> [--host 127.0.0.1]
import net from 'node:net';
import { option } from '../lib/args.js';

const _args = process.argv.slice(2);
const opt = option;
const port = Number(opt('--port', '8080'));
const host = opt('--host', '127.0.0.1');

const body = Buffer.alloc(1024, 'x');
const head = 'HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: 1024\r\n';
const KEEP = Buffer.concat([Buffer.from(`${head}\r\n`), body]);
const CLOSE = Buffer.concat([Buffer.from(`${head}Connection: close\r\n\r\n`), body]);
const END = Buffer.from('\r\n\r\n');
const CLOSE_TOKENS = ['onnection: close', 'onnection: Close', 'ONNECTION: CLOSE'];

const server = net.createServer((sock) => {
  sock.setNoDelay(true);
  let tail = Buffer.alloc(0);
  sock.on('data', (chunk) => {
    const buf = tail.length ? Buffer.concat([tail, chunk]) : chunk;
    let n = 0;
    let i = buf.indexOf(END);
    while (i !== -1) {
      n++;
      i = buf.indexOf(END, i + 4);
    }
    tail = buf.subarray(Math.max(0, buf.length - 3));
    if (n === 0) return;
    if (CLOSE_TOKENS.some((t) => buf.includes(t))) {
      sock.end(CLOSE);
      return;
    }
    sock.write(n === 1 ? KEEP : Buffer.concat(Array(n).fill(KEEP)));
  });
  sock.on('error', () => sock.destroy());
});
server.listen(port, host);
process.on('SIGTERM', () => process.exit(0));
