import pino, { type DestinationStream, type Level, type Logger, type StreamEntry } from 'pino';
import { REDACTED, SECRET_KEYS, redactSecrets } from '../core/redact-secrets.ts';

export interface LoggerOptions {
  /** JSON-lines log file, written synchronously: a machine that dies mid-run keeps the last line. */
  readonly file?: string | undefined;
  /** Lowest level written to the file. Default `debug` (command output included). */
  readonly fileLevel?: Level;
  /** More destinations, each with its own lowest level: a console renderer, a test's memory sink. */
  readonly streams?: readonly { readonly stream: DestinationStream; readonly level: Level }[];
}

export interface ClosableLogger {
  readonly logger: Logger;
  /** Flushes and closes the file destination. Safe to call more than once. */
  close(): void;
}

const redactPaths = SECRET_KEYS.flatMap((key) => [key, `*.${key}`]);

export function createLogger(options: LoggerOptions = {}): ClosableLogger {
  const entries: StreamEntry[] = [];
  let file: ReturnType<typeof pino.destination> | undefined;
  if (options.file !== undefined) {
    file = pino.destination({ dest: options.file, sync: true, mkdir: true, mode: 0o600 });
    entries.push({ stream: file, level: options.fileLevel ?? 'debug' });
  }
  for (const { stream, level } of options.streams ?? []) entries.push({ stream, level });
  if (entries.length === 0) entries.push({ stream: pino.destination({ dest: '/dev/null', sync: true }), level: 'fatal' });

  const logger = pino(
    {
      level: 'debug',
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: redactPaths, censor: REDACTED },
      formatters: {
        level: (label) => ({ level: label }),
        log: (object) => redactSecrets(object) as Record<string, unknown>,
      },
      serializers: {
        err: (error: Error) => redactSecrets(pino.stdSerializers.err(error)) as pino.SerializedError,
      },
    },
    pino.multistream(entries, { dedupe: false }),
  );

  let closed = false;
  return {
    logger,
    close() {
      if (closed) return;
      closed = true;
      file?.flushSync();
      file?.end();
    },
  };
}
