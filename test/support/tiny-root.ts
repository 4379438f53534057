import { execFileSync } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, symlink, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const BUSYBOX = '/usr/bin/busybox';

/**
 * A minimal real Linux root: statically linked busybox with its applets, and the mount points the Handbook
 * mounts on. Enough for chroot, not for PAM (the debootstrap fixtures are for that).
 * busybox-static is installed by scripts/setup.sh; without it this fails loudly rather than skipping.
 */
export async function makeTinyRoot(parent = tmpdir()): Promise<string> {
  if (!existsSync(BUSYBOX)) {
    throw new Error(`${BUSYBOX} is missing: run scripts/setup.sh (it installs busybox-static)`);
  }
  const root = await mkdtemp(join(parent, 'argo-tiny-root-'));
  for (const dir of ['bin', 'etc', 'proc', 'sys', 'dev', 'run', 'tmp', 'root', 'var/log']) {
    await mkdir(join(root, dir), { recursive: true });
  }
  await copyFile(BUSYBOX, join(root, 'bin/busybox'));
  const applets = execFileSync(BUSYBOX, ['--list'], { encoding: 'utf8' }).split('\n').filter(Boolean);
  for (const applet of applets) {
    if (applet !== 'busybox') await symlink('busybox', join(root, 'bin', applet));
  }
  await writeFile(join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
  await writeFile(join(root, 'etc/resolv.conf'), '# the target\'s own resolv.conf\nnameserver 192.0.2.53\n');
  return root;
}
