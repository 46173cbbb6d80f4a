// GPT-2's byte level: text is split into words by one regular expression, each word's UTF-8 bytes
// are spelled as printable characters (one per byte), and BPE merges those. Decoding reverses the
// spelling and reads the bytes back as UTF-8. As in OpenAI's encoder.py and Hugging Face
// tokenizers' ByteLevel pre-tokenizer and decoder.

/**
 * The printable character that stands for each byte (encoder.py's `bytes_to_unicode`): bytes that
 * are printable Latin-1 stand for themselves, the other 68 are shifted past U+00FF, so that no
 * byte is spelled as whitespace or a control character.
 */
export const BYTE_TO_CHAR: readonly string[] = (() => {
  const chars = new Array<string>(256);
  let shifted = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    chars[b] = String.fromCharCode(printable ? b : 256 + shifted++);
  }
  return chars;
})();

/** The byte each character of `BYTE_TO_CHAR` stands for. */
export const CHAR_TO_BYTE: ReadonlyMap<string, number> = new Map(BYTE_TO_CHAR.map((c, b) => [c, b]));

// Whitespace as Hugging Face tokenizers' regex engine (Oniguruma) and Python's `regex` module
// define `\s`: Unicode's White_Space, i.e. \t-\r, U+0085 and the separators (\p{Z}). JavaScript's
// own `\s` differs (it omits U+0085 and adds U+FEFF), so it is spelled out.
const WS = '\\t-\\r\\x85\\p{Z}';

/**
 * GPT-2's pre-split pattern: contractions, letters, digits and other symbols each with an optional
 * leading space, and whitespace runs, where `\s+(?!\S)` leaves a run's last space to the next word.
 * Letters and digits follow the JavaScript engine's Unicode version (see docs/tokenizer.md).
 */
export const GPT2_SPLIT_PATTERN = new RegExp(
  `'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^${WS}\\p{L}\\p{N}]+|[${WS}]+(?![^${WS}])|[${WS}]+`,
  'gu',
);

/**
 * Splits `text` into GPT-2's words. Every character lands in exactly one word, so joining the
 * words gives `text` back.
 *
 * @example
 * preSplit("I'm  here") // ['I', "'m", ' ', ' here']
 */
export function preSplit(text: string): string[] {
  return text.match(GPT2_SPLIT_PATTERN) ?? [];
}

const utf8Encoder = new TextEncoder();
// Keep a leading U+FEFF: it is text, not a byte-order mark, when it comes out of a token.
const utf8Decoder = new TextDecoder('utf-8', { ignoreBOM: true });

/**
 * The UTF-8 bytes of `text`; a lone surrogate (which UTF-8 cannot hold) becomes U+FFFD's bytes.
 *
 * @example
 * utf8Bytes('é') // Uint8Array [0xc3, 0xa9]
 */
export function utf8Bytes(text: string): Uint8Array {
  return utf8Encoder.encode(text);
}

/**
 * The bytes a token stands for. A token spelled entirely in `BYTE_TO_CHAR` characters gives their
 * bytes; any other token (an added token such as `' [X] '`) gives its own UTF-8 bytes, as
 * Hugging Face tokenizers' ByteLevel decoder does.
 *
 * @example
 * tokenBytes('Ġworld') // the bytes of ' world'
 */
export function tokenBytes(token: string): Uint8Array {
  const bytes = new Uint8Array(token.length);
  let n = 0;
  for (const c of token) {
    const b = CHAR_TO_BYTE.get(c);
    if (b === undefined) return utf8Bytes(token);
    bytes[n++] = b;
  }
  return bytes.subarray(0, n);
}

/**
 * Reads bytes as UTF-8, each invalid or truncated sequence becoming one U+FFFD, as Python's
 * `bytes.decode('utf-8', errors='replace')` and Rust's `String::from_utf8_lossy` do.
 *
 * @example
 * decodeUtf8(new Uint8Array([0xe2, 0x80])) // '\ufffd'
 */
export function decodeUtf8(bytes: Uint8Array): string {
  return utf8Decoder.decode(bytes);
}
