/**
 * One at a time, in call order: each function given starts when the one before has settled (a
 * failure does not block the next). Both apps share one output, so its operations take turns.
 */
export function turns(): <T>(f: () => Promise<T>) => Promise<T> {
  let last: Promise<unknown> = Promise.resolve();
  return <T>(f: () => Promise<T>): Promise<T> => {
    const p = last.then(f);
    last = p.catch(() => undefined);
    return p;
  };
}
