import { describe, expect, it } from 'vitest';
import { nextStepsFor, type NextStepsInput } from './summary.ts';

const base: NextStepsInput = {
  outcome: 'recovered',
  causes: [],
  cleanup: undefined,
  isForeignRoot: true,
  root: '/mnt/gentoo',
  undo: 'argo recover --undo recovery-20261130T070000Z --root /mnt/gentoo',
  dryRun: false,
  interrupted: false,
  via: 'recover',
};

describe('nextStepsFor', () => {
  it('after argo recover on a mounted root: undo as given, then leave the chroot', () => {
    expect(nextStepsFor(base)).toEqual([
      'To put every changed file back: argo recover --undo recovery-20261130T070000Z --root /mnt/gentoo',
      'Leave the chroot, unmount the target (umount -R) and reboot into it.',
    ]);
  });

  it('after argo rescue: the root must be mounted again for an undo, and rescue has already unmounted it', () => {
    expect(nextStepsFor({ ...base, via: 'rescue' })).toEqual([
      'To put every changed file back: mount the root at /mnt/gentoo again (its /usr and /var too), then argo recover --undo recovery-20261130T070000Z --root /mnt/gentoo',
      'argo rescue unmounts the root when it is done: reboot into it (remove the boot stick) and log in.',
    ]);
  });

  it('an interrupted run: --resume for argo recover, argo rescue again for rescue (it has no --resume)', () => {
    const interrupted = { ...base, outcome: 'failed', interrupted: true, undo: undefined } as const;
    expect(nextStepsFor(interrupted)).toEqual(['The run was interrupted: run the same command again with --resume to continue where it stopped.']);
    const rescue = nextStepsFor({ ...interrupted, via: 'rescue' });
    expect(rescue).toEqual(['The run was interrupted: run argo rescue again; the recovery looks at the root afresh and repairs what is still broken.']);
  });

  it('a failed run: the error bundle, then the same command (rescue: never --resume)', () => {
    const failed = { ...base, outcome: 'failed', undo: undefined } as const;
    expect(nextStepsFor(failed)).toEqual(['Read error-bundle.txt, fix what it names, then run again with --resume.']);
    expect(nextStepsFor({ ...failed, via: 'rescue' }).join('\n')).not.toContain('--resume');
  });

  it('a dry run names the flag of the command that ran', () => {
    expect(nextStepsFor({ ...base, dryRun: true, undo: undefined })).toEqual(['Run again without --dry-run to make these changes.']);
    expect(nextStepsFor({ ...base, dryRun: true, undo: undefined, via: 'rescue' })).toEqual(['Run again without --pretend to make these changes.']);
  });

  it('on the running system: a text console, then the display manager', () => {
    expect(nextStepsFor({ ...base, isForeignRoot: false, root: '/', undo: undefined })).toEqual([
      'Log in on a text console (Ctrl-Alt-F2) to confirm, then start the display manager (rc-service display-manager start).',
    ]);
  });
});
