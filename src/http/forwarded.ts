/**
 * Behind a reverse proxy: who the client is, from `Forwarded` (RFC 7239) or `X-Forwarded-For` /
 * `X-Forwarded-Proto`, believed only when the connection comes from a trusted proxy. The chain is
 * walked from the right (the hop nearest to us) past every trusted address; the first untrusted one is
 * the client, so a client cannot choose its address by sending the headers itself.
 * @module
 */
import net from 'node:net';

export interface ProxyTrust {
  /** True when `address` (as a socket reports it) is one of the trusted proxies. */
  trusts(address: string): boolean;
}

/** Who sent the request, as far as the trusted proxies say. */
export interface ForwardedClient {
  address: string;
  /** From the nearest proxy's `proto`, or undefined when it did not say. */
  secure: boolean | undefined;
}

/** Named address sets accepted by --trust-proxy besides CIDRs and addresses. */
const NAMED_RANGES: Readonly<Record<string, readonly string[]>> = {
  loopback: ['127.0.0.0/8', '::1/128'],
  // RFC 1918, RFC 4193 unique-local, and the link-local ranges.
  private: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7', '169.254.0.0/16', 'fe80::/10'],
};

/** `10.0.0.0/8`, `::1`, `fd00::/8`, `loopback`, `private` (commas allowed) → a trust list, or an error line. */
export function parseProxyTrust(texts: readonly string[]): ProxyTrust | string {
  const list = new net.BlockList();
  let trustsUnixPeers = false;
  for (const item of texts.flatMap((text) => text.split(',')).map((t) => t.trim())) {
    if (item === '') continue;
    // A peer on a unix socket (no address) is on this machine, as loopback is.
    if (item === 'loopback') trustsUnixPeers = true;
    for (const range of NAMED_RANGES[item] ?? [item]) {
      const slash = range.indexOf('/');
      const address = slash === -1 ? range : range.slice(0, slash);
      const family = net.isIP(address);
      if (family === 0)
        return `--trust-proxy needs addresses or CIDR ranges (or loopback, private), got "${item}"`;
      const type = family === 4 ? 'ipv4' : 'ipv6';
      if (slash === -1) {
        list.addAddress(address, type);
        continue;
      }
      const text = range.slice(slash + 1);
      const prefix = /^\d{1,3}$/.test(text) ? Number(text) : -1;
      if (prefix < 0 || prefix > (family === 4 ? 32 : 128))
        return `--trust-proxy: bad prefix length in "${item}"`;
      list.addSubnet(address, prefix, type);
    }
  }
  return {
    trusts: (address) => {
      if (address === '') return trustsUnixPeers;
      const family = net.isIP(address);
      return family !== 0 && list.check(address, family === 4 ? 'ipv4' : 'ipv6');
    },
  };
}

/**
 * The client behind `peer` when `peer` is trusted; null when the headers are not to be believed (the peer
 * is not a trusted proxy, or it sent no forwarding header).
 */
export function forwardedClient(
  peer: string,
  headers: Readonly<Record<string, string | undefined>>,
  trust: ProxyTrust,
): ForwardedClient | null {
  if (!trust.trusts(peer)) return null;
  let hops: string[];
  let protos: string[];
  const forwarded = headers.forwarded;
  if (forwarded !== undefined) {
    const elements = parseForwarded(forwarded);
    hops = elements.map((element) => nodeAddress(element.for ?? ''));
    protos = elements.map((element) => element.proto ?? '');
  } else {
    const xff = headers['x-forwarded-for'];
    if (xff === undefined) return null;
    hops = xff.split(',').map((hop) => nodeAddress(hop.trim()));
    protos = (headers['x-forwarded-proto'] ?? '').split(',').map((p) => p.trim());
  }
  // Until a hop says otherwise, the peer itself is the best we know (a unix-socket peer has no address).
  let client = peer;
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hops[i]!;
    // "unknown" or an obfuscated name (RFC 7239 §6): the nearest real address is the best we know.
    if (net.isIP(hop) === 0) break;
    client = hop;
    if (!trust.trusts(hop)) break;
  }
  const proto = protos[protos.length - 1]?.toLowerCase();
  return { address: client, secure: proto === 'https' ? true : proto === 'http' ? false : undefined };
}

/** `192.0.2.1`, `192.0.2.1:80`, `[2001:db8::1]:80`, `"[2001:db8::1]"`, `::ffff:1.2.3.4` → the bare address. */
function nodeAddress(text: string): string {
  let value = text.startsWith('"') && text.endsWith('"') && text.length >= 2 ? text.slice(1, -1) : text;
  if (value.startsWith('[')) {
    const end = value.indexOf(']');
    value = end === -1 ? '' : value.slice(1, end);
  } else if (net.isIPv4(value.split(':')[0] ?? '') && value.split(':').length === 2) {
    value = value.split(':')[0]!;
  }
  return value.startsWith('::ffff:') && net.isIPv4(value.slice(7)) ? value.slice(7) : value;
}

/** RFC 7239 §4: comma-separated elements of `;`-separated `name=value` pairs (token or quoted-string). */
export function parseForwarded(text: string): Array<Record<string, string>> {
  const elements: Array<Record<string, string>> = [];
  let element: Record<string, string> = {};
  let i = 0;
  const skipSpace = () => {
    while (text[i] === ' ' || text[i] === '\t') i++;
  };
  while (i < text.length) {
    skipSpace();
    const nameStart = i;
    while (i < text.length && text[i] !== '=' && text[i] !== ';' && text[i] !== ',') i++;
    const name = text.slice(nameStart, i).trim().toLowerCase();
    let value = '';
    if (text[i] === '=') {
      i++;
      if (text[i] === '"') {
        i++;
        while (i < text.length && text[i] !== '"') {
          if (text[i] === '\\') i++;
          value += text[i] ?? '';
          i++;
        }
        i++;
      } else {
        const valueStart = i;
        while (i < text.length && text[i] !== ';' && text[i] !== ',') i++;
        value = text.slice(valueStart, i).trim();
      }
    }
    if (name !== '') element[name] = value;
    skipSpace();
    if (text[i] === ',') {
      elements.push(element);
      element = {};
    }
    i++;
  }
  elements.push(element);
  return elements;
}

/** X-Forwarded-* and Forwarded from an untrusted peer change nothing; this is the address to log then. */
export function clientAddressOf(
  peer: string,
  headers: Readonly<Record<string, string | undefined>> | undefined,
  trust: ProxyTrust | null,
): string {
  if (trust === null || headers === undefined) return peer;
  return forwardedClient(peer, headers, trust)?.address ?? peer;
}
