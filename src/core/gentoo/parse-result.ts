/**
 * What the non-throwing `tryParse…` functions of the Gentoo readers return: the value, or a static reason the text
 * was refused. The throwing `parse…` variants wrap the same reason in an ArgoError that names the text.
 */
export type ParseResult<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: string };

export function accept<T>(value: T): ParseResult<T> {
  return { ok: true, value };
}

export function refuse<T>(reason: string): ParseResult<T> {
  return { ok: false, reason };
}
