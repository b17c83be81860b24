/**
 * A whole response read with node:http — a client nobody here wrote — for tests that need the body bytes
 * of a download (archives, selections) rather than the wire's framing.
 */
import http from 'node:http';

export interface Download {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export function download(
  port: number,
  urlPath: string,
  { method = 'GET', headers = {} }: { method?: string; headers?: Record<string, string> } = {},
): Promise<Download> {
  return new Promise((resolve, reject) => {
    const request = http.request(
      { host: '127.0.0.1', port, path: urlPath, method, agent: false, headers },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () =>
          resolve({
            status: response.statusCode ?? 0,
            headers: response.headers,
            body: Buffer.concat(chunks),
          }),
        );
        response.on('error', reject);
      },
    );
    request.on('error', reject);
    request.end();
  });
}
