import { ArgoError } from '../core/errors.ts';

/**
 * Reader of the binary stream `btrfs send` writes (format: linux/fs/btrfs/send.h, read the same way as
 * btrfs-progs' common/send-stream.c): the header `btrfs-stream\0` and a little-endian u32 version, then
 * commands, each a header (u32 length of its attributes, u16 command, u32 CRC-32C of the command with the CRC
 * field zeroed) followed by attributes (u16 type, u16 length, bytes; from version 2 on the DATA attribute has no
 * length and runs to the end of its command). Paths are kept as the raw bytes the kernel sent: a file name is any
 * byte string without `/` and NUL, and `btrfs receive --dump` prints such names only escaped (and xattr values
 * not escaped at all, so a value with a newline can forge lines); the binary stream has neither problem.
 */

export const SEND_COMMANDS = [
  'unspec', 'subvol', 'snapshot', 'mkfile', 'mkdir', 'mknod', 'mkfifo', 'mksock', 'symlink', 'rename', 'link',
  'unlink', 'rmdir', 'set_xattr', 'remove_xattr', 'write', 'clone', 'truncate', 'chmod', 'chown', 'utimes', 'end',
  'update_extent', 'fallocate', 'fileattr', 'encoded_write', 'enable_verity',
] as const;

export type SendCommandName = (typeof SEND_COMMANDS)[number];

/** Attribute types of send.h (BTRFS_SEND_A_*) that name paths or are read here. */
export const SEND_ATTRIBUTE = {
  uuid: 1,
  ino: 3,
  size: 4,
  mode: 5,
  uid: 6,
  gid: 7,
  rdev: 8,
  xattrName: 13,
  xattrData: 14,
  path: 15,
  pathTo: 16,
  pathLink: 17,
  fileOffset: 18,
  data: 19,
  clonePath: 22,
  cloneOffset: 23,
  cloneLen: 24,
} as const;

const MAX_ATTRIBUTE = 35;
const HIGHEST_VERSION = 3;
const MAGIC = Buffer.from('btrfs-stream\0', 'latin1');
const HEADER_BYTES = MAGIC.length + 4;
const COMMAND_HEADER_BYTES = 10;

export interface SendCommand {
  readonly name: SendCommandName;
  /** Offset of the command in the stream, for error messages. */
  readonly offset: number;
  /** Attribute type → its bytes (views into the stream buffer). */
  readonly attributes: ReadonlyMap<number, Buffer>;
}

export interface SendStream {
  readonly version: number;
  readonly commands: readonly SendCommand[];
}

/** The path attribute every command but `end` carries: a path from the top of the sent subvolume, without a leading `/`. */
export function pathOf(command: SendCommand, attribute: number = SEND_ATTRIBUTE.path): Buffer {
  const value = command.attributes.get(attribute);
  if (value === undefined) throw malformed(`${command.name} at byte ${command.offset} has no attribute ${attribute}`);
  return value;
}

export function u64Of(command: SendCommand, attribute: number): bigint {
  const value = command.attributes.get(attribute);
  if (value === undefined || value.length !== 8) throw malformed(`${command.name} at byte ${command.offset} has no 8-byte attribute ${attribute}`);
  return value.readBigUInt64LE(0);
}

/**
 * Parses a whole send stream of one subvolume: every command's CRC is checked, and the stream must end with
 * the `end` command and nothing after it (a cut-off stream is refused, never half read).
 */
export function parseSendStream(bytes: Uint8Array): SendStream {
  const stream = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (stream.length < HEADER_BYTES || !stream.subarray(0, MAGIC.length).equals(MAGIC)) throw malformed('it does not start with the btrfs-stream header');
  const version = stream.readUInt32LE(MAGIC.length);
  if (version < 1 || version > HIGHEST_VERSION) throw malformed(`stream version ${version} is not known (1 to ${HIGHEST_VERSION} are)`);
  const commands: SendCommand[] = [];
  let offset = HEADER_BYTES;
  for (;;) {
    if (offset + COMMAND_HEADER_BYTES > stream.length) throw malformed(`it ends at byte ${stream.length} without the end command`);
    const length = stream.readUInt32LE(offset);
    const type = stream.readUInt16LE(offset + 4);
    const crc = stream.readUInt32LE(offset + 6);
    const end = offset + COMMAND_HEADER_BYTES + length;
    if (end > stream.length) throw malformed(`the command at byte ${offset} runs past the end of the stream`);
    const name = SEND_COMMANDS[type];
    if (name === undefined || name === 'unspec') throw malformed(`the command at byte ${offset} has the unknown type ${type}`);
    if (commandCrc(stream, offset, end) !== crc) throw malformed(`the CRC of ${name} at byte ${offset} does not match`);
    commands.push({ name, offset, attributes: readAttributes(stream, offset, end, version, name) });
    offset = end;
    if (name === 'end') break;
  }
  if (offset !== stream.length) throw malformed(`${stream.length - offset} bytes follow the end command`);
  return { version, commands };
}

function readAttributes(stream: Buffer, commandOffset: number, end: number, version: number, name: SendCommandName): Map<number, Buffer> {
  const attributes = new Map<number, Buffer>();
  let position = commandOffset + COMMAND_HEADER_BYTES;
  while (position < end) {
    if (end - position < 2) throw malformed(`${name} at byte ${commandOffset} is truncated`);
    const type = stream.readUInt16LE(position);
    position += 2;
    if (type === 0 || type > MAX_ATTRIBUTE) throw malformed(`${name} at byte ${commandOffset} has the unknown attribute ${type}`);
    let length: number;
    if (version >= 2 && type === SEND_ATTRIBUTE.data) {
      length = end - position;
    } else {
      if (end - position < 2) throw malformed(`${name} at byte ${commandOffset} is truncated`);
      length = stream.readUInt16LE(position);
      position += 2;
    }
    if (end - position < length) throw malformed(`${name} at byte ${commandOffset} is truncated`);
    attributes.set(type, stream.subarray(position, position + length));
    position += length;
  }
  return attributes;
}

function malformed(why: string): ArgoError {
  return new ArgoError('ARGO_INVALID_INPUT', `The btrfs send stream cannot be read: ${why}`, {
    hint: 'This is a bug or an unknown stream format; the change list is made by walking both trees instead.',
    details: { why },
  });
}

const CRC32C_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let index = 0; index < 256; index += 1) {
    let value = index;
    for (let bit = 0; bit < 8; bit += 1) value = value & 1 ? (value >>> 1) ^ 0x82f63b78 : value >>> 1;
    table[index] = value >>> 0;
  }
  return table;
})();

/** CRC-32C of the command from `start` to `end` with its CRC field taken as zero, seed 0 and no final inversion (the kernel's crc32c(0, …)). */
function commandCrc(stream: Buffer, start: number, end: number): number {
  let crc = 0;
  for (let index = start; index < end; index += 1) {
    const byte = index >= start + 6 && index < start + COMMAND_HEADER_BYTES ? 0 : (stream[index] as number);
    crc = (CRC32C_TABLE[(crc ^ byte) & 0xff] as number) ^ (crc >>> 8);
  }
  return crc >>> 0;
}
