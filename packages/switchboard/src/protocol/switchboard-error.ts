// The root of every error Switchboard throws or emits. It lives in the bottom
// layer and imports nothing, so protocol/, node/, hub/, wire/ and the browser
// client (which may not import node: modules) can all build on it.

const BRAND: unique symbol = Symbol.for('switchboard.error');

/**
 * An error with a stable, documented `code` string: switch on `err.code`,
 * never on the message. `err instanceof SwitchboardError` is true for every
 * error the library throws or emits, including the argument errors that keep
 * ws's classes (`TypeError`, `RangeError`) so code written for ws keeps
 * working: those carry the brand through {@link codedError}. DOMExceptions
 * that the WHATWG WebSocket API requires are the one exception (their
 * `name` is the stable part; their `code` is the WHATWG number).
 */
export class SwitchboardError extends Error {
  readonly code: string;

  constructor(code: string, message?: string) {
    super(message ?? code);
    this.name = 'SwitchboardError';
    this.code = code;
  }

  /** Subclasses answer `instanceof` as usual; the root also recognises coded built-in errors. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (this !== SwitchboardError) return Function.prototype[Symbol.hasInstance].call(this, value);
    return typeof value === 'object' && value !== null && BRAND in value;
  }
}
Object.defineProperty(SwitchboardError.prototype, BRAND, { value: true });

/** Codes of the argument errors: a call or an option the library cannot accept (a programming error, thrown at once). */
export type ArgumentErrorCode =
  /** A method was called with an argument it cannot take (wrong type, out of range). */
  | 'WS_ERR_INVALID_ARGUMENT'
  /** A constructor option is missing, out of range or contradicts another. */
  | 'WS_ERR_INVALID_OPTION';

/**
 * Gives a built-in error (`TypeError`, `RangeError`: the classes ws throws,
 * which its users test with `instanceof`) a stable `code` and makes it an
 * `instanceof SwitchboardError`, as Node's own `ERR_INVALID_ARG_TYPE` errors are TypeErrors with a code.
 */
export function codedError<E extends Error, C extends string = ArgumentErrorCode>(error: E, code: C): E & { readonly code: C } {
  Object.defineProperty(error, 'code', { value: code, enumerable: true });
  Object.defineProperty(error, BRAND, { value: true });
  return error as E & { readonly code: C };
}

/**
 * Makes every instance of a class that cannot extend SwitchboardError (it
 * extends a built-in such as `RangeError`, as ws's errors do) an
 * `instanceof SwitchboardError`.
 */
export function brandErrorClass(prototype: Error): void {
  Object.defineProperty(prototype, BRAND, { value: true });
}
