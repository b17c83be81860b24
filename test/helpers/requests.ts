import type { HttpRequest } from '../../src/wire/message.js';

/** A bodiless GET of `path` from 127.0.0.1 as a handler sees it, for calling handlers without a socket. */
export function getRequest(path: string): HttpRequest {
  return {
    method: 'GET',
    target: path,
    path,
    query: '',
    version: '1.1',
    headers: { host: 'localhost' },
    rawHeaders: [['Host', 'localhost']],
    body: null,
    contentLength: null,
    authority: 'localhost',
    remoteAddress: '127.0.0.1',
    remotePort: 40000,
    localAddress: '127.0.0.1',
    localPort: 8080,
    secure: false,
  };
}
