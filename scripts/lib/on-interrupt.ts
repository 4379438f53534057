/**
 * Cleanup that runs however a script ends: after its last line, on an error, and on SIGINT/SIGTERM (then the
 * script exits 130/143 once the cleanup finished, as a shell's EXIT trap would). SIGKILL runs nothing: what a
 * script leaves then must be found and removed by its next run, or live where nothing depends on it.
 */
export function withCleanup(cleanup: () => Promise<void>): { run<T>(body: () => Promise<T>): Promise<T> } {
  let started: Promise<void> | undefined;
  const once = (): Promise<void> => (started ??= cleanup());
  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    process.once(signal, () => {
      process.stderr.write(`\n${signal === 'SIGINT' ? 'interrupted' : 'terminated'}: cleaning up\n`);
      void once().finally(() => process.exit(code));
    });
  }
  return {
    async run(body) {
      try {
        return await body();
      } finally {
        await once();
      }
    },
  };
}
