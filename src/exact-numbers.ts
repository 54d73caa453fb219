/**
 * Numbers JSON.parse would change. A JavaScript number holds 15-17 significant digits, so an
 * integer above 2^53 (`9007199254740993`) or a long decimal comes out of JSON.parse with other
 * digits, and the agent would send the SIEM a value the API never sent. Node 20 has no way to
 * read a number's source text (JSON.parse's `context.source` is Node 21+), so a log whose
 * numbers have 16 digits or more is parsed from a text in which each number that would change is
 * a string instead: EXACT + its digits. The formats write those back as the digits (JSON: as a
 * number, unquoted). The prefix holds a random part, so no value from the API can pose as one.
 *
 * The page splitter (page-json.ts) finds such numbers while it walks each log's bytes, so logs
 * without them (all of them, usually) cost nothing here.
 */
const NONCE = Math.random().toString(36).slice(2, 10).padEnd(8, '0');
// U+E000 (private use): JSON.stringify leaves it as it is, so the JSON text holds EXACT verbatim
const MARK = 0xe000;
/** A string value that stands for a number: EXACT + the number's text as the API sent it. */
export const EXACT = `${String.fromCharCode(MARK)}${NONCE}:`;
const EXACT_JSON = `"${EXACT}`;
const EXACT_JSON_RE = new RegExp(`"${EXACT}([-+.0-9eE]+)"`, 'g');

/** Significant digits from which a number may not survive JSON.parse (2^53 has 16); numbers with an exponent are checked too. */
export const LONG_DIGITS = 16;

export const isExact = (s: string): boolean => s.charCodeAt(0) === MARK && s.startsWith(EXACT);

/** A value as text, a marked number as its digits. */
export const unmark = (s: string): string => (isExact(s) ? s.slice(EXACT.length) : s);

/** JSON text with each marked number written back as the number it was. */
export function unmarkJson(json: string): string {
  return json.includes(EXACT_JSON) ? json.replace(EXACT_JSON_RE, '$1') : json;
}

/** JSON.parse, keeping every number that would change as a marked string. */
export function parseExact(text: string): unknown {
  let out = '';
  let from = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // skip a string: to the quote no backslash escapes
      for (i++; i < text.length && text.charCodeAt(i) !== 0x22; i++) if (text.charCodeAt(i) === 0x5c) i++;
    } else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      let j = i + 1;
      while (j < text.length && /[-+.0-9eE]/.test(text[j]!)) j++;
      const token = text.slice(i, j);
      if (changes(token)) {
        out += `${text.slice(from, i)}"${EXACT}${token}"`;
        from = j;
      }
      i = j - 1;
    }
  }
  return JSON.parse(from === 0 ? text : out + text.slice(from));
}

const JSON_NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?$/;

/**
 * Whether JSON.parse would give this number token another value: 16+ significant digits, or an
 * exponent that leaves a double's range (1e400 is Infinity, written as null by JSON.stringify;
 * 1e-400 is 0). A malformed one is left for JSON.parse to refuse.
 */
function changes(token: string): boolean {
  let digits = 0;
  let exponent = false;
  for (let k = 0; k < token.length; k++) {
    const c = token.charCodeAt(k);
    if (c === 0x65 || c === 0x45) {
      exponent = true; // the exponent's digits are not significant
      break;
    }
    if (c >= 0x30 && c <= 0x39) digits++;
  }
  if ((digits < LONG_DIGITS && !exponent) || !JSON_NUMBER.test(token)) return false;
  const n = Number(token);
  if (!Number.isFinite(n)) return true;
  // an exponent alone changes no value (1E5 is 100000, fsize=100000 as before); one that
  // underflows to 0 does (1e-400)
  if (digits < LONG_DIGITS) return n === 0 && /[1-9]/.test(token.slice(0, token.search(/[eE]/)));
  return !sameNumber(token, n);
}

/** True when `n` written out is the token, up to how JSON writes numbers (1.50 and 1.5 are the same). */
function sameNumber(token: string, n: number): boolean {
  if (String(n) === token) return true;
  // trailing zeros after a decimal point do not change the value
  if (/^-?\d+\.\d*?0+$/.test(token) && String(n) === token.replace(/\.?0+$/, '')) return true;
  return false;
}
