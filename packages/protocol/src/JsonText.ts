/**
 * Checks that bytes are exactly one JSON value (RFC 8259, surrounding whitespace allowed), nested
 * at most `maxDepth` deep, with no `__proto__` key (however it is escaped) — without building the
 * value. A runner can then pass a child's result on as text instead of parsing it into objects and
 * writing it out again (for a large result, most of the runner's memory and time).
 *
 * Returns undefined when the text is fine, or what is wrong with it.
 */
export const checkJsonText = (bytes: Uint8Array, maxDepth: number): string | undefined =>
  scanJson(bytes, maxDepth).problem

/**
 * `checkJsonText`, and where the value at `target` (object keys and array indexes from the top)
 * is: `range` holds its first byte and the byte after it, when it is there.
 */
export const scanJson = (
  bytes: Uint8Array,
  maxDepth: number,
  target?: ReadonlyArray<string | number>
): { readonly problem?: string; readonly range?: readonly [number, number] } => {
  const problem = scan(bytes, maxDepth, target)
  return typeof problem === "string" ? { problem } : problem === undefined ? {} : { range: problem }
}

const scan = (
  bytes: Uint8Array,
  maxDepth: number,
  target: ReadonlyArray<string | number> | undefined
): string | readonly [number, number] | undefined => {
  const n = bytes.length
  let i = 0
  // What each open container expects next: 1 = object key, 2 = object value, 3 = array value.
  const stack: Array<number> = []
  // The key or index each open container is at (only followed as deep as `target` goes).
  const path: Array<string | number | undefined> = []
  let start = -1
  let end = -1
  const onTarget = () => {
    if (target === undefined || start >= 0 || stack.length !== target.length) return false
    for (let k = 0; k < target.length; k++) if (path[k] !== target[k]) return false
    return true
  }
  const valueEnded = () => {
    if (start >= 0 && end < 0 && stack.length === target!.length) end = i
  }
  const fail = (what: string) => `${what} at byte ${i}`

  const skipSpace = () => {
    while (i < n) {
      const c = bytes[i]!
      if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return
      i++
    }
  }

  /** Scans a string from its opening quote; returns whether it used escapes, or a problem. */
  const scanString = (): boolean | string => {
    i++
    let escaped = false
    while (i < n) {
      const c = bytes[i]!
      if (c === 0x22) {
        i++
        return escaped
      }
      if (c < 0x20) return fail("a control character in a string")
      if (c === 0x5c) {
        escaped = true
        const e = bytes[i + 1]
        if (e === 0x75) {
          for (let k = 2; k < 6; k++) {
            const h = bytes[i + k]
            const hex = h !== undefined &&
              ((h >= 0x30 && h <= 0x39) || (h >= 0x41 && h <= 0x46) || (h >= 0x61 && h <= 0x66))
            if (!hex) return fail("a bad \\u escape")
          }
          i += 6
          continue
        }
        if (
          e !== 0x22 && e !== 0x5c && e !== 0x2f && e !== 0x62 && e !== 0x66 && e !== 0x6e && e !== 0x72 &&
          e !== 0x74
        ) return fail("a bad escape")
        i += 2
        continue
      }
      i++
    }
    return fail("an unterminated string")
  }

  const digits = () => {
    const start = i
    while (i < n && bytes[i]! >= 0x30 && bytes[i]! <= 0x39) i++
    return i > start
  }

  const scanNumber = (): string | undefined => {
    if (bytes[i] === 0x2d) i++
    if (bytes[i] === 0x30) i++
    else if (!digits()) return fail("a bad number")
    if (bytes[i] === 0x2e) {
      i++
      if (!digits()) return fail("a bad number")
    }
    if (bytes[i] === 0x65 || bytes[i] === 0x45) {
      i++
      if (bytes[i] === 0x2b || bytes[i] === 0x2d) i++
      if (!digits()) return fail("a bad number")
    }
    return undefined
  }

  const literal = (word: string): string | undefined => {
    for (let k = 0; k < word.length; k++) {
      if (bytes[i + k] !== word.charCodeAt(k)) return fail("an unexpected character")
    }
    i += word.length
    return undefined
  }

  const isProto = (start: number, end: number, escaped: boolean) => {
    if (!escaped) {
      const proto = "__proto__"
      if (end - start !== proto.length + 2) return false
      for (let k = 0; k < proto.length; k++) if (bytes[start + 1 + k] !== proto.charCodeAt(k)) return false
      return true
    }
    // An escaped key is short enough to decode: "__pro\u0074o__" is __proto__ too.
    if (end - start > 64) return false
    return JSON.parse(Buffer.from(bytes.subarray(start, end)).toString("utf8")) === "__proto__"
  }

  skipSpace()
  if (i >= n) return fail("no value")
  for (;;) {
    skipSpace()
    if (i >= n) return fail("an unexpected end")
    const top = stack.length === 0 ? 0 : stack[stack.length - 1]!
    const c = bytes[i]!
    if (top === 1) {
      // An object key (or the end of an empty object, handled below).
      if (c !== 0x22) return fail("an object key that is not a string")
      const keyStart = i
      const scanned = scanString()
      if (typeof scanned === "string") return scanned
      if (isProto(keyStart, i, scanned)) return fail("a __proto__ key")
      if (target !== undefined && stack.length <= target.length) {
        path[stack.length - 1] = JSON.parse(Buffer.from(bytes.subarray(keyStart, i)).toString("utf8")) as string
      }
      skipSpace()
      if (bytes[i] !== 0x3a) return fail("a missing ':'")
      i++
      stack[stack.length - 1] = 2
      continue
    }
    // A value.
    if (onTarget()) start = i
    if (c === 0x7b || c === 0x5b) {
      if (stack.length >= maxDepth) return fail(`nesting deeper than ${maxDepth}`)
      i++
      skipSpace()
      const close = c === 0x7b ? 0x7d : 0x5d
      if (bytes[i] === close) {
        i++
      } else {
        stack.push(c === 0x7b ? 1 : 3)
        path[stack.length - 1] = c === 0x7b ? undefined : 0
        continue
      }
    } else if (c === 0x22) {
      const scanned = scanString()
      if (typeof scanned === "string") return scanned
    } else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      const problem = scanNumber()
      if (problem !== undefined) return problem
    } else {
      const problem = c === 0x74 ?
        literal("true") :
        c === 0x66 ?
        literal("false") :
        c === 0x6e ?
        literal("null") :
        fail(
          "an unexpected character"
        )
      if (problem !== undefined) return problem
    }
    // After a value: a comma, or the end of containers, or the end of the text.
    valueEnded()
    for (;;) {
      skipSpace()
      if (stack.length === 0) {
        if (i !== n) return fail("text after the value")
        return start >= 0 && end >= 0 ? [start, end] : undefined
      }
      const open = stack[stack.length - 1]!
      const close = open === 3 ? 0x5d : 0x7d
      if (bytes[i] === 0x2c) {
        i++
        stack[stack.length - 1] = open === 3 ? 3 : 1
        if (open === 3) path[stack.length - 1] = (path[stack.length - 1] as number) + 1
        break
      }
      if (bytes[i] === close) {
        i++
        stack.pop()
        path.length = stack.length
        valueEnded()
        continue
      }
      return fail(open === 3 ? "a missing ',' or ']'" : "a missing ',' or '}'")
    }
  }
}
