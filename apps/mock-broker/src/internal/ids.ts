import { randomBytes, randomInt } from "node:crypto"

const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"

/** A nanoid-style id: `size` characters of `[A-Za-z0-9_-]`. */
export const nanoid = (size = 21): string => {
  const bytes = randomBytes(size)
  let id = ""
  for (let i = 0; i < size; i++) id += alphabet[bytes[i]! & 63]
  return id
}

/** `bytes` random bytes as lowercase hex (grant tokens: 32 bytes, 64 chars). */
export const randomHex = (bytes: number): string => randomBytes(bytes).toString("hex")

/** A random integer in [0, max). */
export const randomBelow = (max: number): number => randomInt(max)
