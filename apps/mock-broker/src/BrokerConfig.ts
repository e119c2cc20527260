import { Defaults, n8nConfigProvider, resolveN8nEnv } from "@taskrunner/protocol"
import { Config, ConfigProvider, Context, Effect, Layer, Redacted } from "effect"
import { readFileSync } from "node:fs"
import { randomHex } from "./internal/ids.js"

/** Settings of the mock broker, read from n8n's variable names. Durations are in milliseconds. */
export interface BrokerSettings {
  readonly host: string
  /** 0 picks a free port. */
  readonly port: number
  readonly authToken: Redacted.Redacted<string>
  /** True when no token was configured and a random one was generated (n8n does the same). */
  readonly authTokenGenerated: boolean
  readonly grantTokenTtlMs: number
  readonly maxPayloadBytes: number
  readonly taskTimeoutMs: number
  readonly taskRequestTimeoutMs: number
  readonly taskAcceptTimeoutMs: number
  readonly heartbeatIntervalMs: number
  readonly gracefulShutdownTimeoutMs: number
  /** Auth requests and WebSocket upgrades allowed per second (n8n: 5). 0 switches the limit off. */
  readonly rateLimitPerSecond: number
}

const seconds = (name: string, fallback: number, what: string) =>
  Config.number(name).pipe(
    Config.withDefault(fallback),
    Config.validate({ message: `${what} must be greater than 0 (seconds)`, validation: (n) => n > 0 }),
    Config.map((n) => Math.round(n * 1000)),
    Config.withDescription(`${what}, in seconds (default ${fallback})`)
  )

/** Reads every setting from the environment, failing with one line naming a bad variable. */
export const brokerSettings: Config.Config<BrokerSettings> = Config.all({
  host: Config.string("N8N_RUNNERS_BROKER_LISTEN_ADDRESS").pipe(
    Config.withDefault(Defaults.brokerListenAddress),
    Config.withDescription("address the broker listens on")
  ),
  port: Config.integer("N8N_RUNNERS_BROKER_PORT").pipe(
    Config.withDefault(Defaults.brokerPort),
    Config.validate({ message: "Port must be between 0 and 65535", validation: (n) => n >= 0 && n <= 65535 }),
    Config.withDescription("port of the broker (0 picks a free one)")
  ),
  authToken: Config.redacted("N8N_RUNNERS_AUTH_TOKEN").pipe(Config.option),
  grantTokenTtlMs: seconds("N8N_RUNNERS_GRANT_TOKEN_TTL", Defaults.grantTokenTtlSeconds, "Grant token TTL"),
  maxPayloadBytes: Config.integer("N8N_RUNNERS_MAX_PAYLOAD").pipe(
    Config.withDefault(Defaults.maxPayloadBytes),
    Config.validate({ message: "Max payload must be greater than 0 (bytes)", validation: (n) => n > 0 })
  ),
  taskTimeoutMs: seconds("N8N_RUNNERS_TASK_TIMEOUT", Defaults.brokerTaskTimeoutSeconds, "Task timeout"),
  taskRequestTimeoutMs: seconds(
    "N8N_RUNNERS_TASK_REQUEST_TIMEOUT",
    Defaults.taskRequestTimeoutSeconds,
    "Task request timeout"
  ),
  taskAcceptTimeoutMs: seconds(
    "N8N_RUNNERS_TASK_ACCEPT_TIMEOUT",
    Defaults.taskAcceptTimeoutSeconds,
    "Task accept timeout"
  ),
  heartbeatIntervalMs: seconds(
    "N8N_RUNNERS_HEARTBEAT_INTERVAL",
    Defaults.heartbeatIntervalSeconds,
    "Heartbeat interval"
  ),
  gracefulShutdownTimeoutMs: seconds("N8N_GRACEFUL_SHUTDOWN_TIMEOUT", 30, "Graceful shutdown timeout"),
  rateLimitPerSecond: Config.integer("N8N_RUNNERS_MOCK_RATE_LIMIT").pipe(
    Config.withDefault(5),
    Config.validate({ message: "Rate limit must be 0 (off) or more", validation: (n) => n >= 0 })
  )
}).pipe(
  Config.map(({ authToken, ...rest }) => {
    const configured = authToken._tag === "Some" && Redacted.value(authToken.value) !== ""
    return {
      ...rest,
      authToken: configured ? authToken.value : Redacted.make(randomHex(32)),
      authTokenGenerated: !configured
    }
  })
)

/** The mock broker's settings. */
export class BrokerConfig extends Context.Tag("@taskrunner/mock-broker/BrokerConfig")<BrokerConfig, BrokerSettings>() {
  /** Settings from the environment (n8n's variable names). */
  static readonly layerConfig = Layer.effect(BrokerConfig, Effect.map(brokerSettings, (s) => BrokerConfig.of(s)))

  /** Fixed settings, e.g. for tests. */
  static readonly layer = (settings: BrokerSettings) => Layer.succeed(BrokerConfig, BrokerConfig.of(settings))
}

/**
 * The process environment with n8n's conventions applied (`<NAME>_FILE`, quotes), with values
 * given on the command line taking precedence. The only place that reads `process.env`.
 */
export const environmentProvider = (overrides: ReadonlyMap<string, string>) =>
  Effect.map(
    resolveN8nEnv(process.env, (path) => readFileSync(path, "utf8")),
    (env) => ConfigProvider.fromMap(new Map(overrides)).pipe(ConfigProvider.orElse(() => n8nConfigProvider(env)))
  )

/** Log level from `N8N_LOG_LEVEL` (n8n's variable): error, warn, info (default) or debug. */
export const logLevel = Config.literal("error", "warn", "info", "debug")("N8N_LOG_LEVEL").pipe(
  Config.withDefault("info" as const)
)
