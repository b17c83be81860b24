// node:http serving the fixture files it knows (1k.bin, 1k.html, 100k.bin) from memory.
// Usage: node bench/servers/node-http.js <root> --port <p> [--host 127.0.0.1]
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { option } from '../lib/args.js';

const args = process.argv.slice(2);
const opt = option;
const root = args[0];
const port = Number(opt('--port', '8080'));
const host = opt('--host', '127.0.0.1');

const files = new Map();
for (const [name, type] of [
  ['1k.bin', 'application/octet-stream'],
  ['1k.html', 'text/html; charset=utf-8'],
  ['100k.bin', 'application/octet-stream'],
]) {
  const data = readFileSync(join(root, name));
  files.set(`/${name}`, { data, type, length: String(data.length) });
}

const server = http.createServer((req, res) => {
  const f = files.get(req.url);
  if (!f) {
    res.writeHead(404, { 'Content-Length': '0' });
    res.end();
    return;
  }
  res.writeHead(200, { 'Content-Type': f.type, 'Content-Length': f.length });
  res.end(req.method === 'HEAD' ? undefined : f.data);
});
server.keepAliveTimeout = 65_000;
server.listen(port, host);
process.on('SIGTERM', () => process.exit(0));
