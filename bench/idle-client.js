// Opens N keep-alive connections to 127.0.0.1:<port>, sends one request on each, waits for
// the response head and then keeps the socket open. Prints one JSON line when done
// ("ready"), then on each line read from stdin prints how many sockets are still open.
// Bounded: gives up opening after --timeout seconds; exits when stdin closes.
// Usage: node bench/idle-client.js --port <p> [--count 10000] [--path /1k.bin] [--timeout 60]
import net from 'node:net';
import readline from 'node:readline';
import { option } from './lib/args.js';

const _args = process.argv.slice(2);
const opt = option;
const port = Number(opt('--port', '0'));
const count = Number(opt('--count', '10000'));
const path = opt('--path', '/1k.bin');
const timeoutS = Number(opt('--timeout', '60'));
const BATCH = 256;

const sockets = new Set();
let answered = 0;
let errors = 0;
let firstError = '';
let closedByServer = 0;
const request = Buffer.from(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);

function openOne() {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    let done = false;
    const finish = () => {
      if (!done) {
        done = true;
        resolve();
      }
    };
    sock.on('connect', () => sock.write(request));
    sock.once('data', (d) => {
      if (d.toString('latin1', 0, 12).startsWith('HTTP/1.1 200')) answered++;
      finish();
    });
    sock.on('error', (e) => {
      errors++;
      if (!firstError) firstError = e.code ?? e.message;
      finish();
    });
    sock.on('close', () => {
      if (sockets.delete(sock)) closedByServer++;
      finish();
    });
    sock.setTimeout(timeoutS * 1000, finish);
    sockets.add(sock);
  });
}

const t0 = Date.now();
for (let i = 0; i < count && Date.now() - t0 < timeoutS * 1000; i += BATCH) {
  const batch = [];
  for (let j = i; j < Math.min(count, i + BATCH); j++) batch.push(openOne());
  await Promise.all(batch);
}
const status = () =>
  JSON.stringify({ open: sockets.size, answered, errors, firstError, closedByServer, ms: Date.now() - t0 });
process.stdout.write(`${status()}\n`);
const rl = readline.createInterface({ input: process.stdin });
rl.on('line', () => process.stdout.write(`${status()}\n`));
rl.on('close', () => {
  for (const s of sockets) s.destroy();
  process.exit(0);
});
setTimeout(() => process.exit(0), 10 * 60 * 1000).unref();
