// A message carried to the next screen (e.g. an attachment the server refused right after the
// case was created): shown once, then forgotten.

let pending: string[] = [];

export function flash(message: string): void {
  pending.push(message);
}

export function takeFlash(): string[] {
  const out = pending;
  pending = [];
  return out;
}
