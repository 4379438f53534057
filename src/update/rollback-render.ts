import type { RollbackResult } from './rollback.ts';

const SHOWN = 20;
const MARK = { created: '-', deleted: '+', modified: '~' } as const;

/**
 * The rollback for people: what was (or will be) put back, what stays and why, what it cannot cover.
 * `-` removes a path the update created, `+` puts back one it deleted, `~` restores one it changed.
 */
export function renderRollback(result: RollbackResult, stage: 'preview' | 'pretend' | 'done'): string {
  const lines: string[] = [];
  const source = result.post === undefined
    ? `pre snapshot ${result.pre}; the update left no post snapshot (interrupted), so its changes are read from the live system`
    : `pre snapshot ${result.pre}, post snapshot ${result.post}`;
  const verb = stage === 'done' ? 'Rolled back' : stage === 'pretend' ? 'Would roll back' : 'Will roll back';
  lines.push(`${verb} update ${result.updateId} (${result.backend}: ${source}).`);
  const merged = result.packages.filter((entry) => entry.state === 'merged');
  const unfinished = result.packages.filter((entry) => entry.state === 'unfinished');
  if (result.packages.length === 0) lines.push('emerge.log names no package merged by this update: only Portage\'s own files can be rolled back.');
  for (const entry of merged) lines.push(`  package ${entry.cpv}${entry.replaced.length > 0 ? ` (replaced ${entry.replaced.join(', ')})` : ' (new)'}`);
  for (const entry of unfinished) {
    lines.push(`  package ${entry.cpv}: merge cut off${entry.replaced.length > 0 ? `; files of ${entry.replaced.join(', ')} are put back` : ''}${entry.newContentsKnown ? '' : '; files only the new version has are not known and stay'}`);
  }
  const count = result.restore.length;
  lines.push(count === 0 ? 'Nothing to put back: the update\'s files are as they were before it.' : `${stage === 'done' ? 'Put back' : 'Puts back'} ${count} paths (- remove, + restore deleted, ~ restore changed):`);
  for (const change of result.restore.slice(0, SHOWN)) lines.push(`  ${MARK[change.status]} ${change.path}`);
  if (count > SHOWN) lines.push(`  … and ${count - SHOWN} more (--json lists them all)`);
  if (result.changedAfter.length > 0) {
    const how = {
      refuse: 'changed again after the update: the rollback is refused while they are (--keep-changed keeps them, --overwrite-changed puts them back too)',
      keep: 'changed again after the update: kept as they are now (--keep-changed)',
      overwrite: 'changed again after the update: put back too (--overwrite-changed)',
    }[result.conflicts];
    lines.push(`${result.changedAfter.length} of the update's files ${how}:`);
    for (const change of result.changedAfter.slice(0, SHOWN)) lines.push(`  ! ${change.path}`);
    if (result.changedAfter.length > SHOWN) lines.push(`  … and ${result.changedAfter.length - SHOWN} more`);
  }
  if (result.other.count > 0) {
    lines.push(`Left alone: ${result.other.count} other changes since the pre snapshot that the update did not make (e.g. ${result.other.sample.slice(0, 3).join(', ')}).`);
  }
  for (const folder of result.keptFolders) lines.push(`Kept folder ${folder}: something that is not rolled back lives in it.`);
  for (const mount of result.notCovered) {
    lines.push(`Not covered: ${mount.path} is another filesystem (${mount.fsType}), not in the snapshots; ${mount.files} files of the update's packages there stay as they are.`);
  }
  lines.push('Not covered: filesystems other than the snapshotted root and nested subvolumes; the running programs keep the old files open until they restart.');
  if (stage === 'done' && result.safetySnapshot !== undefined) {
    lines.push(`Safety snapshot ${result.safetySnapshot} holds the state just before the rollback (argo snapshot diff ${result.safetySnapshot} shows what changed).`);
  }
  if (stage === 'preview') lines.push('A safety snapshot of the current state is taken first.');
  if (stage === 'pretend') lines.push('Nothing was changed (--pretend).');
  return `${lines.join('\n')}\n`;
}
