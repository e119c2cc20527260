import type { FastCheck } from "effect"

/** True when `value` is a JSON object (not an array, not null). */
export const isJsonObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

/** Keys that change an object's prototype when assigned with `[[Set]]` semantics. */
export const forbiddenKey = "__proto__"

/**
 * JSON values for property tests. fast-check may generate a `__proto__` key, which our decoder
 * rejects on purpose, so such values are filtered out.
 */
export const jsonArbitrary = (fc: typeof FastCheck, maxDepth = 2): FastCheck.Arbitrary<unknown> =>
  fc.jsonValue({ maxDepth }).filter((value) => !containsForbiddenKey(value))

const hasOwnForbiddenKey = (value: object): boolean => Object.prototype.hasOwnProperty.call(value, forbiddenKey)

/**
 * The path of the first `__proto__` key in a parsed JSON tree, if any. Iterative (hostile nesting
 * cannot overflow the stack); the path is only rebuilt once a key was found.
 */
export const findForbiddenKeyPath = (root: unknown): ReadonlyArray<PropertyKey> | undefined => {
  const stack: Array<unknown> = [root]
  let found = false
  while (stack.length > 0 && !found) {
    const value = stack.pop()
    if (typeof value !== "object" || value === null) continue
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) stack.push(value[i])
    } else if (hasOwnForbiddenKey(value)) {
      found = true
    } else {
      for (const key in value) stack.push((value as Record<string, unknown>)[key])
    }
  }
  return found ? pathTo(root) : undefined
}

const pathTo = (root: unknown): ReadonlyArray<PropertyKey> | undefined => {
  const stack: Array<{ readonly value: unknown; readonly path: ReadonlyArray<PropertyKey> }> = [{
    value: root,
    path: []
  }]
  while (stack.length > 0) {
    const { path, value } = stack.pop()!
    if (typeof value !== "object" || value === null) continue
    if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) stack.push({ value: value[i], path: [...path, i] })
    } else if (hasOwnForbiddenKey(value)) {
      return [...path, forbiddenKey]
    } else {
      for (const key of Object.keys(value).toReversed()) {
        stack.push({ value: (value as Record<string, unknown>)[key], path: [...path, key] })
      }
    }
  }
  return undefined
}

const containsForbiddenKey = (value: unknown): boolean => findForbiddenKeyPath(value) !== undefined

/** Renders a decoding path as `a.b[2].c`. */
export const formatPath = (path: ReadonlyArray<PropertyKey>): string => {
  let out = ""
  for (const segment of path) {
    if (typeof segment === "number") out += `[${segment}]`
    else {
      const name = String(segment)
      out += /^[A-Za-z_$][\w$]*$/.test(name) ? (out === "" ? name : `.${name}`) : `[${JSON.stringify(name)}]`
    }
  }
  return out === "" ? "(root)" : out
}

/** A short, safe rendering of an arbitrary decoded value for error messages. */
export const preview = (value: unknown, max = 80): string => {
  let text: string
  if (value === undefined) text = "undefined"
  else if (typeof value === "string") text = JSON.stringify(value.length > max ? value.slice(0, max) : value)
  else if (Array.isArray(value)) text = `an array of ${value.length}`
  else if (typeof value === "object" && value !== null) text = "an object"
  else text = String(value)
  return text.length > max ? `${text.slice(0, max)}…` : text
}
