import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../src/core/errors.ts';
import { EVENTS } from '../../src/core/log-events.ts';

const read = (name: string) => readFile(new URL(`../../docs/${name}`, import.meta.url), 'utf8');

/** `### NAME` sections of a document, with their bodies. */
function sections(markdown: string): Map<string, string> {
  const result = new Map<string, string>();
  const parts = markdown.split(/^### /m).slice(1);
  for (const part of parts) {
    const newline = part.indexOf('\n');
    result.set(part.slice(0, newline).trim().replace(/`/g, ''), part.slice(newline + 1).split(/^## /m)[0] ?? '');
  }
  return result;
}

describe('docs/errors.md', () => {
  it('documents exactly the error codes of the code base, each with its exit code', async () => {
    const documented = sections(await read('errors.md'));
    expect([...documented.keys()].sort()).toEqual(Object.keys(ERROR_CODES).sort());
    for (const [code, info] of Object.entries(ERROR_CODES)) {
      expect(documented.get(code), code).toContain(`Exit code: ${info.exit}.`);
    }
  });
});

describe('docs/log-events.md', () => {
  it('documents exactly the events of the catalogue, with their level, message and every field', async () => {
    const documented = sections(await read('log-events.md'));
    expect([...documented.keys()].sort()).toEqual(Object.keys(EVENTS).sort());
    for (const [name, info] of Object.entries(EVENTS)) {
      const body = documented.get(name) ?? '';
      expect(body, name).toContain(`Level: ${info.level}. Message: "${info.message}".`);
      for (const field of info.fields) expect(body, `${name}.${String(field)}`).toContain(`- \`${String(field)}\``);
    }
  });
});
