import { ConfigProvider, Either, Schema } from "effect"
import type { ConfigError } from "effect"

/** A `<NAME>_FILE` variable points at a file that cannot be read. */
export class EnvFileUnreadable extends Schema.TaggedError<EnvFileUnreadable>()("EnvFileUnreadable", {
  variable: Schema.String,
  path: Schema.String,
  detail: Schema.String
}) {
  override get message(): string {
    return `Cannot read ${this.variable} (${this.path}): ${this.detail}`
  }
}

const stripQuotes = (value: string): string => {
  const trimmed = value.trim()
  const quoted = trimmed.length >= 2 && (trimmed[0] === "\"" || trimmed[0] === "'") && trimmed.at(-1) === trimmed[0]
  return quoted ? trimmed.slice(1, -1) : value
}

/** The variables n8n's conventions apply to: its own, not unrelated `*_FILE` variables of the host. */
export const isN8nVariable = (name: string): boolean =>
  name.startsWith("N8N_") || name.startsWith("NODE_FUNCTION_ALLOW_") || name === "GENERIC_TIMEZONE"

/**
 * Applies n8n's environment conventions: a variable `<NAME>_FILE` supplies `<NAME>` from a file
 * (trimmed; it wins over `<NAME>`, so secrets mounted as files are never shadowed), and surrounding
 * quotes are stripped. `readFile` is injected so this stays free of any platform.
 */
export const resolveN8nEnv = (
  env: Readonly<Record<string, string | undefined>>,
  readFile: (path: string) => string
): Either.Either<ReadonlyMap<string, string>, EnvFileUnreadable> => {
  const resolved = new Map<string, string>()
  for (const [name, value] of Object.entries(env)) {
    if (value !== undefined && !resolved.has(name)) resolved.set(name, stripQuotes(value))
  }
  for (const [name, path] of Object.entries(env)) {
    if (!name.endsWith("_FILE") || path === undefined || path === "") continue
    const variable = name.slice(0, -"_FILE".length)
    if (!isN8nVariable(variable)) continue
    try {
      resolved.set(variable, stripQuotes(readFile(path).trim()))
    } catch (error) {
      const detail = error instanceof Error ? error.message : String(error)
      return Either.left(new EnvFileUnreadable({ variable: name, path, detail }))
    }
  }
  return Either.right(resolved)
}

/** A `ConfigProvider` over an environment resolved with `resolveN8nEnv`. */
export const n8nConfigProvider = (resolved: ReadonlyMap<string, string>): ConfigProvider.ConfigProvider =>
  ConfigProvider.fromMap(new Map(resolved))

/**
 * One line for a configuration error, naming the variable: Effect's own message leaves the
 * variable out (`Expected an integer value but received "many"`).
 */
export const describeConfigError = (error: ConfigError.ConfigError): string => {
  switch (error._op) {
    case "And":
    case "Or":
      return describeConfigError(error.left)
    case "InvalidData":
    case "MissingData":
    case "SourceUnavailable":
    case "Unsupported": {
      const variable = error.path.join("_")
      return variable === "" || error.message.includes(variable) ? error.message : `${variable}: ${error.message}`
    }
  }
}
