/**
 * The transport contract. `write` resolves only when every line is delivered (file: written and
 * fsync'd; socket: accepted by the kernel; stream: flushed), and rejects with an OutputError whose
 * `delivered` says how many leading lines did make it. Lines carry no trailing newline.
 */
export interface Output {
  readonly name: string;
  /** Connect / open; fails fast, before anything is fetched. */
  open(): Promise<void>;
  write(lines: string[], severities?: number[]): Promise<void>;
  /**
   * For outputs where "accepted by the kernel" is not yet "received" (TCP/TLS): resolves once the
   * connection has shown no failure since the last confirm, re-sending over a new connection
   * what an old one may have lost. The marker moves only after it.
   */
  confirm?(): Promise<void>;
  close(): Promise<void>;
}
