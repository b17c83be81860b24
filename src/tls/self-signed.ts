/**
 * A development certificate made in memory with node:crypto alone: an ECDSA P-256 key and a self-signed
 * X.509 v3 certificate for localhost, 127.0.0.1 and ::1, DER-encoded by hand (RFC 5280). Node can sign
 * and parse certificates but not build them, and a dependency tree for one dev flag is not worth it.
 * Loaded with import() only when --tls-self-signed (or `tls: { selfSigned: true }`) asks for it.
 * @module
 */
import { generateKeyPairSync, randomBytes, sign, X509Certificate } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';

/** Browsers cap leaf certificates at 398 days; a dev certificate lives only as long as the process anyway. */
const VALIDITY_DAYS = 30;
/** Allow for a client clock that runs a little behind. */
const BACKDATE_MS = 60 * 60 * 1000;
const DAY_MS = 24 * 60 * 60 * 1000;
const SERIAL_BYTES = 16;

export const SELF_SIGNED_NAMES: readonly string[] = ['localhost', '127.0.0.1', '::1'];

export interface GeneratedCertificate {
  /** PEM certificate. */
  cert: string;
  /** PEM PKCS#8 private key. */
  key: string;
  /** SHA-256 fingerprint of the DER certificate, as colon-separated upper-case hex (what browsers show). */
  fingerprint256: string;
}

// DER tags (X.690).
const TAG = {
  boolean: 0x01,
  integer: 0x02,
  bitString: 0x03,
  octetString: 0x04,
  oid: 0x06,
  utf8String: 0x0c,
  sequence: 0x30,
  set: 0x31,
  utcTime: 0x17,
  generalizedTime: 0x18,
} as const;
const CONTEXT_DNS_NAME = 0x82;
const CONTEXT_IP_ADDRESS = 0x87;

const OID = {
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  commonName: '2.5.4.3',
  organization: '2.5.4.10',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extendedKeyUsage: '2.5.29.37',
  serverAuth: '1.3.6.1.5.5.7.3.1',
} as const;

function encodeLength(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  const bytes: number[] = [];
  for (let rest = length; rest > 0; rest = Math.floor(rest / 256)) bytes.unshift(rest & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function tlv(tag: number, ...contents: Buffer[]): Buffer {
  const body = Buffer.concat(contents);
  return Buffer.concat([Buffer.from([tag]), encodeLength(body.length), body]);
}

function oid(dotted: string): Buffer {
  const arcs = dotted.split('.').map(Number);
  const bytes = [40 * arcs[0]! + arcs[1]!];
  for (const arc of arcs.slice(2)) {
    const base128 = [arc & 0x7f];
    for (let rest = Math.floor(arc / 128); rest > 0; rest = Math.floor(rest / 128)) {
      base128.unshift(0x80 | (rest & 0x7f));
    }
    bytes.push(...base128);
  }
  return tlv(TAG.oid, Buffer.from(bytes));
}

/**
 * A positive INTEGER from unsigned big-endian bytes, in DER's minimal form (X.690 §8.3.2): leading zero
 * bytes dropped (a random serial starting with 0x00 was otherwise refused as "illegal padding"), then one
 * zero put back when the sign bit would be set.
 */
export function unsignedInteger(bytes: Buffer): Buffer {
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  const minimal = bytes.subarray(start);
  return tlv(TAG.integer, (minimal[0] ?? 0) & 0x80 ? Buffer.concat([Buffer.from([0]), minimal]) : minimal);
}

/** RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime after. */
function time(date: Date): Buffer {
  const iso = date.toISOString().replace(/[-:T]/g, '').slice(0, 14); // YYYYMMDDHHMMSS
  if (date.getUTCFullYear() < 2050) return tlv(TAG.utcTime, Buffer.from(`${iso.slice(2)}Z`, 'latin1'));
  return tlv(TAG.generalizedTime, Buffer.from(`${iso}Z`, 'latin1'));
}

function name(commonName: string): Buffer {
  const attribute = (type: string, value: string) =>
    tlv(TAG.set, tlv(TAG.sequence, oid(type), tlv(TAG.utf8String, Buffer.from(value, 'utf8'))));
  return tlv(
    TAG.sequence,
    attribute(OID.organization, 'docroot development'),
    attribute(OID.commonName, commonName),
  );
}

function ipAddressBytes(address: string): Buffer {
  if (isIPv4(address)) return Buffer.from(address.split('.').map(Number));
  // Expand '::' and write the eight 16-bit groups.
  const [head = '', tail = ''] = address.includes('::') ? address.split('::') : [address, ''];
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = tail === '' ? [] : tail.split(':');
  const groups = [
    ...headGroups,
    ...Array(8 - headGroups.length - tailGroups.length).fill('0'),
    ...tailGroups,
  ];
  const out = Buffer.alloc(16);
  for (const [i, group] of groups.entries()) out.writeUInt16BE(Number.parseInt(group, 16), i * 2);
  return out;
}

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return tlv(
    TAG.sequence,
    oid(id),
    ...(critical ? [tlv(TAG.boolean, Buffer.from([0xff]))] : []),
    tlv(TAG.octetString, value),
  );
}

/** Makes a fresh key pair and a self-signed certificate for the given DNS names and IP addresses. */
export function generateSelfSignedCertificate(
  names: readonly string[] = SELF_SIGNED_NAMES,
  now: Date = new Date(),
): GeneratedCertificate {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const signatureAlgorithm = tlv(TAG.sequence, oid(OID.ecdsaWithSha256));
  const subject = name(names[0] ?? 'localhost');
  const altNames = names.map((entry) =>
    isIPv4(entry) || isIPv6(entry)
      ? tlv(CONTEXT_IP_ADDRESS, ipAddressBytes(entry))
      : tlv(CONTEXT_DNS_NAME, Buffer.from(entry, 'latin1')),
  );
  // keyUsage digitalSignature: BIT STRING, 7 unused bits, first bit set.
  const keyUsage = tlv(TAG.bitString, Buffer.from([0x07, 0x80]));
  const extensions = tlv(
    0xa3,
    tlv(
      TAG.sequence,
      extension(OID.basicConstraints, true, tlv(TAG.sequence)),
      extension(OID.keyUsage, true, keyUsage),
      extension(OID.extendedKeyUsage, false, tlv(TAG.sequence, oid(OID.serverAuth))),
      extension(OID.subjectAltName, false, tlv(TAG.sequence, ...altNames)),
    ),
  );
  const tbs = tlv(
    TAG.sequence,
    tlv(0xa0, tlv(TAG.integer, Buffer.from([2]))), // version v3
    unsignedInteger(randomBytes(SERIAL_BYTES)),
    signatureAlgorithm,
    subject,
    tlv(
      TAG.sequence,
      time(new Date(now.getTime() - BACKDATE_MS)),
      time(new Date(now.getTime() + VALIDITY_DAYS * DAY_MS)),
    ),
    subject,
    publicKey.export({ type: 'spki', format: 'der' }),
    extensions,
  );
  const signature = sign('sha256', tbs, privateKey); // DER ECDSA-Sig-Value, as X.509 wants
  const der = tlv(
    TAG.sequence,
    tbs,
    signatureAlgorithm,
    tlv(TAG.bitString, Buffer.concat([Buffer.from([0]), signature])),
  );
  const base64Lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  const cert = `-----BEGIN CERTIFICATE-----\n${base64Lines.join('\n')}\n-----END CERTIFICATE-----\n`;
  const key = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  return { cert, key, fingerprint256: certificateFingerprint(cert) };
}

/** SHA-256 fingerprint of a PEM certificate, colon-separated upper-case hex. */
export function certificateFingerprint(pem: string): string {
  return new X509Certificate(pem).fingerprint256;
}
