import { describe, expect, it } from "@effect/vitest"
import { Config, Effect, Either } from "effect"
import { n8nConfigProvider, resolveN8nEnv } from "../src/index.js"

const files: Record<string, string> = { "/run/secrets/token": "s3cret\n" }
const readFile = (path: string) => {
  const content = files[path]
  if (content === undefined) throw new Error(`ENOENT: no such file or directory, open '${path}'`)
  return content
}

describe("n8n environment conventions", () => {
  it("reads <NAME>_FILE, trimmed, in preference to <NAME>", () => {
    const env = resolveN8nEnv(
      { N8N_RUNNERS_AUTH_TOKEN: "inline", N8N_RUNNERS_AUTH_TOKEN_FILE: "/run/secrets/token" },
      readFile
    )
    expect(Either.isRight(env) && env.right.get("N8N_RUNNERS_AUTH_TOKEN")).toBe("s3cret")
  })

  it("leaves other programs' *_FILE variables alone", () => {
    const env = resolveN8nEnv({ TF_CLI_CONFIG_FILE: "/missing", N8N_X: "1" }, readFile)
    expect(Either.isRight(env) && env.right.get("TF_CLI_CONFIG_FILE")).toBe("/missing")
  })

  it("strips surrounding quotes", () => {
    const env = resolveN8nEnv({ A: "\"quoted\"", B: "'single'", C: "\"unbalanced'", D: "plain" }, readFile)
    expect(Either.isRight(env) && [...env.right.values()]).toEqual(["quoted", "single", "\"unbalanced'", "plain"])
  })

  it("names the variable and the file when the file cannot be read", () => {
    const env = resolveN8nEnv({ N8N_RUNNERS_GRANT_TOKEN_FILE: "/missing" }, readFile)
    expect(Either.isLeft(env) && env.left.message).toBe(
      "Cannot read N8N_RUNNERS_GRANT_TOKEN_FILE (/missing): ENOENT: no such file or directory, open '/missing'"
    )
  })

  it.effect("feeds Config", () =>
    Effect.gen(function*() {
      const env = resolveN8nEnv({ N8N_RUNNERS_BROKER_PORT: "5680" }, readFile)
      if (Either.isLeft(env)) throw env.left
      const port = yield* Config.integer("N8N_RUNNERS_BROKER_PORT").pipe(
        Effect.withConfigProvider(n8nConfigProvider(env.right))
      )
      expect(port).toBe(5680)
    }))
})
