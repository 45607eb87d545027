/**
 * The keys of a signedBy requirement as gpgv reads them. gpgv takes only binary keyrings
 * (it reads an ASCII-armored file as an invalid packet and then finds no key), while
 * policy files routinely name `gpg --armor --export` output, so armor is removed here
 * (RFC 4880 §6: base64 between the BEGIN and END lines, with its CRC-24 checked). The
 * packet walk only counts public keys, so that a file with none is reported as that,
 * not as "the signature is by an unknown key" for every image.
 */

const BEGIN = /^-----BEGIN PGP PUBLIC KEY BLOCK-----\s*$/;
const END = /^-----END PGP PUBLIC KEY BLOCK-----\s*$/;
const PUBLIC_KEY_TAG = 6;

function crc24(bytes: Buffer): number {
  let crc = 0xb704ce;
  for (const byte of bytes) {
    crc ^= byte << 16;
    for (let bit = 0; bit < 8; bit++) {
      crc <<= 1;
      if (crc & 0x1000000) crc ^= 0x1864cfb;
    }
  }
  return crc & 0xffffff;
}

/** The binary packets of every armored public key block of `text`, or why there are none. */
function dearmor(text: string): Buffer | string {
  const lines = text.split(/\r?\n/);
  const blocks: Buffer[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!BEGIN.test(lines[i]!)) continue;
    i++;
    // Armor headers (`Comment: …`) end at the first blank line.
    while (i < lines.length && lines[i]!.trim() !== '') {
      if (!lines[i]!.includes(':')) break; // no headers at all
      i++;
    }
    let base64 = '';
    let checksum: string | undefined;
    for (; i < lines.length && !END.test(lines[i]!); i++) {
      const line = lines[i]!.trim();
      if (line.startsWith('=') && line.length === 5) checksum = line.slice(1);
      else base64 += line;
    }
    if (i === lines.length) return 'an armored key block has no END line';
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(base64))
      return 'an armored key block holds characters that are not base64';
    const bytes = Buffer.from(base64, 'base64');
    if (
      checksum !== undefined &&
      Buffer.from(checksum, 'base64').readUIntBE(0, 3) !== crc24(bytes)
    ) {
      return 'an armored key block fails its CRC-24 checksum (the file is damaged)';
    }
    blocks.push(bytes);
  }
  return blocks.length === 0
    ? 'no "-----BEGIN PGP PUBLIC KEY BLOCK-----" found'
    : Buffer.concat(blocks);
}

/** How many public key packets `bytes` holds, or why it is not a sequence of OpenPGP packets. */
function countPublicKeys(bytes: Buffer): number | string {
  let keys = 0;
  let i = 0;
  while (i < bytes.length) {
    const header = bytes[i]!;
    if ((header & 0x80) === 0) return `byte ${i} does not start an OpenPGP packet`;
    let tag: number;
    let length: number;
    let start: number;
    if (header & 0x40) {
      tag = header & 0x3f;
      const first = bytes[i + 1];
      if (first === undefined) return 'the last packet is cut short';
      if (first < 192) [length, start] = [first, i + 2];
      else if (first < 224)
        [length, start] = [((first - 192) << 8) + (bytes[i + 2] ?? 0) + 192, i + 3];
      else if (first === 255) {
        if (i + 6 > bytes.length) return 'the last packet is cut short';
        [length, start] = [bytes.readUInt32BE(i + 2), i + 6];
      } else return 'a key packet uses partial lengths, which keys never do';
    } else {
      tag = (header >> 2) & 0x0f;
      const size = [1, 2, 4, 0][header & 0x03]!;
      if (size === 0) [length, start] = [bytes.length - i - 1, i + 1];
      else if (i + 1 + size > bytes.length) return 'the last packet is cut short';
      else [length, start] = [bytes.readUIntBE(i + 1, size), i + 1 + size];
    }
    if (start + length > bytes.length) return 'the last packet is cut short';
    if (tag === PUBLIC_KEY_TAG) keys++;
    i = start + length;
  }
  return keys;
}

/**
 * A binary keyring gpgv can read, made of `sources` (each binary or armored), or why one
 * of them cannot be used (named by `names[i]`).
 */
export function makeKeyring(sources: Buffer[], names: string[]): Buffer | string {
  const parts: Buffer[] = [];
  for (const [index, source] of sources.entries()) {
    const name = names[index] ?? `key ${index + 1}`;
    const head = source.subarray(0, 200).toString('latin1').trimStart();
    const binary = head.startsWith('-----BEGIN PGP') ? dearmor(source.toString('latin1')) : source;
    if (typeof binary === 'string') return `${name}: ${binary}`;
    const keys = countPublicKeys(binary);
    if (typeof keys === 'string') return `${name} is not an OpenPGP keyring: ${keys}`;
    if (keys === 0) return `${name} holds no OpenPGP public key`;
    parts.push(binary);
  }
  return Buffer.concat(parts);
}
