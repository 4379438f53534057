import type { Logger } from 'pino';
import { createLogger } from '../../src/logging/create-logger.ts';

export interface LogRecord {
  readonly level: string;
  readonly msg: string;
  readonly event?: string;
  readonly [key: string]: unknown;
}

/** A real pino logger (same redaction and formatters as production) whose lines are kept in memory. */
export function createMemoryLogger(): { logger: Logger; records: LogRecord[]; events(name: string): LogRecord[]; text(): string } {
  const lines: string[] = [];
  const records: LogRecord[] = [];
  const { logger } = createLogger({
    streams: [
      {
        level: 'debug',
        stream: {
          write(line: string) {
            lines.push(line);
            records.push(JSON.parse(line) as LogRecord);
          },
        },
      },
    ],
  });
  return {
    logger,
    records,
    events: (name) => records.filter((record) => record.event === name),
    text: () => lines.join(''),
  };
}
