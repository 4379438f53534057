import { describe, expect, it } from 'vitest';
import { nextStepsFor, type NextStepsInput } from './summary.ts';

const base: NextStepsInput = {
  outcome: 'recovered',
  causes: [],
  cleanup: undefined,
  isForeignRoot: true,
  root: '/mnt/gentoo',
  logDir: '/mnt/gentoo/var/log/argo/recovery-20261130T070000Z',
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
      'To put every changed file back: mount the root at /mnt/gentoo again as argo rescue did (its Mounts list), then argo recover --undo recovery-20261130T070000Z --root /mnt/gentoo',
      'argo rescue unmounts the root when it is done: reboot into it (remove the boot stick) and log in.',
    ]);
  });

  it('an interrupted run: --resume for argo recover, argo rescue again for rescue (it has no --resume)', () => {
    const interrupted = { ...base, outcome: 'failed', interrupted: true, undo: undefined } as const;
    expect(nextStepsFor(interrupted)).toEqual(['The run was interrupted: run argo recover again with the same options and --resume (without --ask or -p) to continue where it stopped.']);
    const rescue = nextStepsFor({ ...interrupted, via: 'rescue' });
    expect(rescue).toEqual(['The run was interrupted: run argo rescue again; the recovery looks at the root afresh and repairs what is still broken.']);
  });

  it('a failed run: the error bundle, then the same command (rescue: never --resume, and where the bundle is)', () => {
    const failed = { ...base, outcome: 'failed', undo: undefined } as const;
    expect(nextStepsFor(failed)).toEqual(['Read error-bundle.txt, fix what it names, then run again with --resume.']);
    expect(nextStepsFor({ ...failed, via: 'rescue' })).toEqual([
      'Read /mnt/gentoo/var/log/argo/recovery-20261130T070000Z/error-bundle.txt (on the root: mount it again to read it), fix what it names, then run argo rescue again.',
    ]);
  });

  it('after argo rescue with the logs off the root (moved to /tmp/argo): copy them off before the reboot', () => {
    const offRoot = { ...base, via: 'rescue', logDir: '/tmp/argo/recovery-20261130T070000Z', undo: 'argo recover --undo recovery-20261130T070000Z --root /mnt/gentoo --log-dir /tmp/argo' } as const;
    expect(nextStepsFor(offRoot)).toEqual([
      'To put every changed file back: mount the root at /mnt/gentoo again as argo rescue did (its Mounts list), then argo recover --undo recovery-20261130T070000Z --root /mnt/gentoo --log-dir /tmp/argo',
      "The run's logs and its change record are in /tmp/argo/recovery-20261130T070000Z, outside the root: copy them off before you reboot.",
      'argo rescue unmounts the root when it is done: reboot into it (remove the boot stick) and log in.',
    ]);
    expect(nextStepsFor({ ...offRoot, outcome: 'failed', undo: undefined })).toEqual([
      "The run's logs are in /tmp/argo/recovery-20261130T070000Z, outside the root: copy them off before you reboot.",
      'Read /tmp/argo/recovery-20261130T070000Z/error-bundle.txt, fix what it names, then run argo rescue again.',
    ]);
  });

  it('tells logs on the root from logs outside it by where they are, not by the name var/log', () => {
    const logOutside = (logDir: string, root = '/mnt/gentoo') => nextStepsFor({ ...base, root, logDir, undo: undefined }).some((step) => step.includes('outside the root'));
    expect(logOutside('/mnt/gentoo/persist/log/argo/recovery-20261130T070000Z')).toBe(false); // /var/log a symlink, resolved inside
    expect(logOutside('/mnt/gentoo/root/argo-logs/recovery-20261130T070000Z')).toBe(false); // --log-dir inside the root
    expect(logOutside('/mnt/gentoo/..logs/recovery-20261130T070000Z')).toBe(false); // a folder whose name starts with ..
    expect(logOutside('/mnt/gentoo-other/recovery-20261130T070000Z')).toBe(true);
    expect(logOutside('/tmp/argo/recovery-20261130T070000Z')).toBe(true); // argo recover --root from a live system too
    expect(logOutside('/var/log/argo/recovery-20261130T070000Z', '/mnt/gentoo/')).toBe(true);
  });

  it('a dry run names the flag of the command that ran', () => {
    expect(nextStepsFor({ ...base, dryRun: true, undo: undefined })).toEqual(['Run again without --dry-run to make these changes.']);
    expect(nextStepsFor({ ...base, dryRun: true, undo: undefined, via: 'rescue' })).toEqual(['Run again without --pretend to make these changes.']);
  });

  it('on the running system: a text console, then the display manager', () => {
    expect(nextStepsFor({ ...base, isForeignRoot: false, root: '/', logDir: '/var/log/argo/recovery-20261130T070000Z', undo: undefined })).toEqual([
      'Log in on a text console (Ctrl-Alt-F2) to confirm, then start the display manager (rc-service display-manager start).',
    ]);
  });
});
