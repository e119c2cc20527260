import { Context, Effect, Layer, Redacted } from "effect"
import { timingSafeEqual } from "node:crypto"
import { BrokerConfig } from "./BrokerConfig.js"
import { randomHex } from "./internal/ids.js"

/** Issues single-use grant tokens in exchange for the shared auth token. */
export interface GrantTokensShape {
  /** A fresh grant token if `token` equals the auth token (constant time), else `undefined`. */
  readonly exchange: (token: string) => string | undefined
  /** Consumes a grant token: true once, if it exists and has not expired. */
  readonly consume: (grant: string) => boolean
}

/** Grant tokens of `POST /runners/auth`, consumed by the WebSocket upgrade. */
export class GrantTokens extends Context.Tag("@taskrunner/mock-broker/GrantTokens")<GrantTokens, GrantTokensShape>() {
  /** In-memory tokens with the configured TTL. */
  static readonly layer = Layer.effect(
    GrantTokens,
    Effect.gen(function*() {
      const config = yield* BrokerConfig
      const expected = Buffer.from(Redacted.value(config.authToken), "utf8")
      const grants = new Map<string, number>()

      const sweep = (now: number) => {
        for (const [grant, expiresAt] of grants) if (expiresAt <= now) grants.delete(grant)
      }

      return GrantTokens.of({
        exchange: (token) => {
          const given = Buffer.from(token, "utf8")
          // timingSafeEqual needs equal lengths; the length check itself leaks only the length.
          if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined
          const now = Date.now()
          sweep(now)
          const grant = randomHex(32)
          grants.set(grant, now + config.grantTokenTtlMs)
          return grant
        },
        consume: (grant) => {
          const expiresAt = grants.get(grant)
          grants.delete(grant)
          return expiresAt !== undefined && expiresAt > Date.now()
        }
      })
    })
  )
}
