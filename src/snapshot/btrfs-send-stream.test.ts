import { describe, expect, it } from 'vitest';
import { parseSendStream, pathOf, SEND_ATTRIBUTE, SEND_COMMANDS, u64Of, type SendCommandName } from './btrfs-send-stream.ts';

type EncodedCommand = readonly [SendCommandName, readonly (readonly [number, string | Buffer | bigint])[]];

/** A send stream as the kernel writes it (send.h): header, then per command its header with the CRC-32C and its attributes. */
function encodeSendStream(version: number, commands: readonly EncodedCommand[]): Buffer {
  const header = Buffer.alloc(17);
  header.write('btrfs-stream\0', 'latin1');
  header.writeUInt32LE(version, 13);
  const parts = [header];
  for (const [name, attributes] of commands) {
    const body = Buffer.concat(
      attributes.map(([type, value]) => {
        const bytes = typeof value === 'bigint' ? Buffer.alloc(8) : Buffer.from(value);
        if (typeof value === 'bigint') bytes.writeBigUInt64LE(value);
        const head = Buffer.alloc(version >= 2 && type === SEND_ATTRIBUTE.data ? 2 : 4);
        head.writeUInt16LE(type, 0);
        if (head.length === 4) head.writeUInt16LE(bytes.length, 2);
        return Buffer.concat([head, bytes]);
      }),
    );
    const command = Buffer.concat([Buffer.alloc(10), body]);
    command.writeUInt32LE(body.length, 0);
    command.writeUInt16LE(SEND_COMMANDS.indexOf(name), 4);
    command.writeUInt32LE(crc32c(command), 6);
    parts.push(command);
  }
  return Buffer.concat(parts);
}

/** Bitwise CRC-32C (Castagnoli, reflected 0x82F63B78), seed 0, no final inversion: independent of the table in the parser. */
function crc32c(bytes: Buffer): number {
  let crc = 0;
  for (const byte of bytes) {
    crc ^= byte;
    for (let bit = 0; bit < 8; bit += 1) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return crc >>> 0;
}

const snapshot: EncodedCommand = ['snapshot', [[SEND_ATTRIBUTE.path, 'post'], [SEND_ATTRIBUTE.uuid, Buffer.alloc(16)]]];
const end: EncodedCommand = ['end', []];

describe('parseSendStream', () => {
  it('reads commands, raw path bytes and numbers, checking each CRC-32C', () => {
    const name = Buffer.from([0x61, 0xff, 0x20, 0x0a, 0x5c]);
    const stream = parseSendStream(
      encodeSendStream(1, [
        snapshot,
        ['mkfile', [[SEND_ATTRIBUTE.path, 'o257-7-0'], [SEND_ATTRIBUTE.ino, 257n]]],
        ['rename', [[SEND_ATTRIBUTE.path, 'o257-7-0'], [SEND_ATTRIBUTE.pathTo, Buffer.concat([Buffer.from('etc/'), name])]]],
        ['update_extent', [[SEND_ATTRIBUTE.path, 'etc/hostname'], [SEND_ATTRIBUTE.fileOffset, 0n], [SEND_ATTRIBUTE.size, 4096n]]],
        end,
      ]),
    );
    expect(stream.version).toBe(1);
    expect(stream.commands.map((command) => command.name)).toEqual(['snapshot', 'mkfile', 'rename', 'update_extent', 'end']);
    const [, mkfile, rename, update] = stream.commands;
    expect(u64Of(mkfile!, SEND_ATTRIBUTE.ino)).toBe(257n);
    expect(pathOf(rename!, SEND_ATTRIBUTE.pathTo)).toEqual(Buffer.concat([Buffer.from('etc/'), name]));
    expect(u64Of(update!, SEND_ATTRIBUTE.size)).toBe(4096n);
  });

  it('reads the DATA attribute of version 2, which has no length and runs to the end of its command', () => {
    const stream = parseSendStream(
      encodeSendStream(2, [snapshot, ['write', [[SEND_ATTRIBUTE.path, 'f'], [SEND_ATTRIBUTE.fileOffset, 0n], [SEND_ATTRIBUTE.data, 'hello world']]], end]),
    );
    expect(stream.commands[1]?.attributes.get(SEND_ATTRIBUTE.data)?.toString()).toBe('hello world');
  });

  const valid = encodeSendStream(1, [snapshot, ['unlink', [[SEND_ATTRIBUTE.path, 'etc/gone']]], end]);
  const corrupt = Buffer.from(valid);
  corrupt[corrupt.length - 20] = (corrupt[corrupt.length - 20] as number) ^ 1;
  const badVersion = Buffer.from(valid);
  badVersion.writeUInt32LE(9, 13);
  const unknownCommand = encodeSendStream(1, [snapshot, ['unspec', []], end]);
  const unknownAttribute = encodeSendStream(1, [snapshot, ['unlink', [[99, 'x']]], end]);

  it.each([
    ['an empty file', Buffer.alloc(0), /header/],
    ['another magic', Buffer.from('btrfs-strean\0\x01\0\0\0'), /header/],
    ['an unknown version', badVersion, /version 9/],
    ['a flipped bit', corrupt, /CRC/],
    ['a stream cut off inside a command', valid.subarray(0, valid.length - 15), /past the end/],
    ['a stream cut off before its end command', valid.subarray(0, valid.length - 10), /without the end command/],
    ['bytes after the end command', Buffer.concat([valid, Buffer.from([0])]), /follow the end command/],
    ['an unknown command', unknownCommand, /unknown type 0/],
    ['an unknown attribute', unknownAttribute, /unknown attribute 99/],
  ])('refuses %s', (_name, bytes, message) => {
    expect(() => parseSendStream(bytes)).toThrow(expect.objectContaining({ code: 'ARGO_INVALID_INPUT', message: expect.stringMatching(message) }));
  });

  it('names the command whose path attribute is missing', () => {
    const stream = parseSendStream(encodeSendStream(1, [snapshot, ['unlink', []], end]));
    expect(() => pathOf(stream.commands[1]!)).toThrow(/unlink at byte \d+ has no attribute 15/);
  });
});
