import { ArgoError } from '../core/errors.ts';
import { pathOf, SEND_ATTRIBUTE, type SendCommand, type SendCommandName, type SendStream } from './btrfs-send-stream.ts';

/**
 * Commands after which an inode may differ by the rules of a change list (type, mode, owner, size, content).
 * `utimes` alone (every inode whose atime, mtime or ctime moved: reading a file is enough), xattrs and inode
 * flags are not such a change, so an inode that got only those is no candidate.
 */
const CHANGING: ReadonlySet<SendCommandName> = new Set(['write', 'clone', 'truncate', 'chmod', 'chown', 'update_extent', 'fallocate', 'encoded_write']);
const CREATING: ReadonlySet<SendCommandName> = new Set(['mkfile', 'mkdir', 'mknod', 'mkfifo', 'mksock', 'symlink']);
const IGNORED: ReadonlySet<SendCommandName> = new Set(['utimes', 'set_xattr', 'remove_xattr', 'fileattr', 'enable_verity', 'end']);

export interface SendCandidates {
  /**
   * Paths from the tree tops (`/etc/hostname`) that may differ between the parent and the sent subvolume: the
   * old place of everything removed, renamed or replaced, the new place of everything created, renamed or
   * linked, and both places of every inode whose data, size, mode or owner changed. Sorted, no `/`.
   */
  readonly paths: readonly string[];
  /** Such paths with a name that is not UTF-8 (decoded with U+FFFD): no string path reaches them. */
  readonly unrepresentable: readonly string[];
}

/**
 * One inode as the receiving side sees it while the stream is applied: `origin` is its path in the parent
 * snapshot (undefined for an inode the stream creates); `entries` are the names of a folder that the stream
 * changed (null: removed), `loaded` the parent's names looked up through it and not changed.
 */
interface Inode {
  readonly origin: string | undefined;
  readonly entries: Map<string, Inode | null>;
  readonly loaded: Map<string, Inode>;
  changed: boolean;
}

/** Every inode of the model, reachable at the end or not: a folder the stream emptied and removed still tells which of the parent's paths it changed. */
type Model = Inode[];

const inode = (model: Model, origin: string | undefined, changed = false): Inode => {
  const made: Inode = { origin, entries: new Map(), loaded: new Map(), changed };
  model.push(made);
  return made;
};

/**
 * Replays the commands of an incremental send stream (`btrfs send -p PARENT SUBVOL`) on a model of the parent's
 * names, the way `btrfs receive` applies them, and returns the paths that may differ. Command paths name the
 * state reached so far (temporary orphan names `o<ino>-<gen>-<n>` in the top folder, folders renamed before their
 * contents are touched), so each is looked up through the model, never taken as a final path. Names are handled
 * as raw bytes (latin1 strings) until the end. Throws ARGO_INVALID_INPUT when a command names a path the model
 * does not have, which a whole stream from the kernel never does.
 */
export function replaySendStream(stream: SendStream): SendCandidates {
  const model: Model = [];
  const root = inode(model, '');
  const [first] = stream.commands;
  if (first?.name !== 'snapshot') throw inconsistent(`it starts with ${first?.name ?? 'nothing'}, not with snapshot: it is not an incremental stream`);

  const split = (raw: Buffer): { parent: Inode; name: string } => {
    const parts = raw.toString('latin1').split('/');
    const name = parts.pop() as string;
    if (name === '') throw inconsistent(`the command path ${printable(raw)} has no last component`);
    return { parent: walk(model, root, parts, raw), name };
  };
  const lookup = (raw: Buffer): Inode => (raw.length === 0 ? root : walk(model, root, raw.toString('latin1').split('/'), raw));

  for (const command of stream.commands.slice(1)) {
    const { name } = command;
    if (IGNORED.has(name)) continue;
    if (CHANGING.has(name)) {
      lookup(pathOf(command)).changed = true;
      continue;
    }
    if (CREATING.has(name)) {
      const place = split(pathOf(command));
      place.parent.entries.set(place.name, inode(model, undefined, true));
      continue;
    }
    switch (name) {
      case 'rename': {
        const from = split(pathOf(command));
        const moved = entryOf(model, from.parent, from.name, command);
        const to = split(pathOf(command, SEND_ATTRIBUTE.pathTo));
        from.parent.entries.set(from.name, null);
        to.parent.entries.set(to.name, moved);
        break;
      }
      case 'link': {
        const place = split(pathOf(command));
        place.parent.entries.set(place.name, lookup(pathOf(command, SEND_ATTRIBUTE.pathLink)));
        break;
      }
      case 'unlink':
      case 'rmdir': {
        const place = split(pathOf(command));
        entryOf(model, place.parent, place.name, command);
        place.parent.entries.set(place.name, null);
        break;
      }
      default:
        throw inconsistent(`${name} at byte ${command.offset} is not expected in an incremental stream`);
    }
  }
  return candidatesOf(model, root);
}

function walk(model: Model, root: Inode, parts: readonly string[], raw: Buffer): Inode {
  let current = root;
  for (const part of parts) {
    if (part === '' || part === '.' || part === '..') throw inconsistent(`the command path ${printable(raw)} is not a plain relative path`);
    const next = childOf(model, current, part);
    if (next === undefined) throw inconsistent(`the command path ${printable(raw)} names a folder the stream removed or never made`);
    current = next;
  }
  return current;
}

/** The inode at `name` in `folder`: changed by the stream, or looked up in the parent snapshot. */
function childOf(model: Model, folder: Inode, name: string): Inode | undefined {
  const entry = folder.entries.get(name);
  if (entry !== undefined) return entry ?? undefined;
  if (folder.origin === undefined) return undefined;
  let loaded = folder.loaded.get(name);
  if (loaded === undefined) {
    loaded = inode(model, `${folder.origin}/${name}`);
    folder.loaded.set(name, loaded);
  }
  return loaded;
}

function entryOf(model: Model, folder: Inode, name: string, command: SendCommand): Inode {
  const entry = childOf(model, folder, name);
  if (entry === undefined) throw inconsistent(`${command.name} at byte ${command.offset} names ${printable(Buffer.from(name, 'latin1'))}, which does not exist at that point`);
  return entry;
}

/**
 * The candidates: on the parent's side, the old path of every name a folder of the parent got changed and of
 * every changed inode that was there, whether or not it is still reachable at the end; on the sent side, the
 * final path of every changed name and changed inode, found by walking the final names.
 */
function candidatesOf(model: Model, root: Inode): SendCandidates {
  const found = new Set<string>();
  for (const node of model) {
    if (node.origin === undefined) continue;
    if (node.changed) found.add(node.origin);
    for (const name of node.entries.keys()) found.add(`${node.origin}/${name}`);
  }
  const visited = new Set<Inode>();
  const visit = (folder: Inode, finalPath: string): void => {
    if (visited.has(folder)) return;
    visited.add(folder);
    const children = new Map<string, Inode>(folder.loaded);
    for (const [name, entry] of folder.entries) {
      if (entry === null) children.delete(name);
      else {
        children.set(name, entry);
        found.add(`${finalPath}/${name}`);
      }
    }
    for (const [name, child] of children) {
      if (child.changed) found.add(`${finalPath}/${name}`);
      visit(child, `${finalPath}/${name}`);
    }
  };
  visit(root, '');
  const paths: string[] = [];
  const unrepresentable: string[] = [];
  for (const candidate of found) {
    if (candidate === '') continue;
    const bytes = Buffer.from(candidate, 'latin1');
    const text = bytes.toString('utf8');
    if (Buffer.from(text, 'utf8').equals(bytes)) paths.push(text);
    else unrepresentable.push(text);
  }
  return { paths: paths.sort(byCodeUnit), unrepresentable: unrepresentable.sort(byCodeUnit) };
}

function byCodeUnit(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function printable(raw: Buffer): string {
  return JSON.stringify(raw.toString('utf8'));
}

function inconsistent(why: string): ArgoError {
  return new ArgoError('ARGO_INVALID_INPUT', `The btrfs send stream does not replay: ${why}`, {
    hint: 'This is a bug or an unknown stream format; the change list is made by walking both trees instead.',
    details: { why },
  });
}
