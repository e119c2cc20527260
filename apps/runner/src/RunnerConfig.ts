import { parseAllowList } from "@taskrunner/analyzer"
import { Defaults, n8nConfigProvider, resolveN8nEnv } from "@taskrunner/protocol"
import { Config, ConfigError, ConfigProvider, Context, Effect, Either, Layer, Option, Redacted } from "effect"
import { readFileSync } from "node:fs"

/** Everything the runner reads from its environment (n8n's variable names, plus a few of ours). */
export interface RunnerSettings {
  /** `host:port` of the broker (scheme and path of the URI are ignored, as in n8n's runners). */
  readonly brokerHost: string
  readonly grantToken: Option.Option<Redacted.Redacted<string>>
  readonly authToken: Option.Option<Redacted.Redacted<string>>
  readonly runnerId: Option.Option<string>
  readonly name: string
  readonly maxConcurrency: number
  readonly maxPayloadBytes: number
  readonly taskTimeoutSeconds: number
  /** 0 = off. */
  readonly autoShutdownTimeoutSeconds: number
  readonly gracefulShutdownTimeoutSeconds: number
  readonly reconnectIntervalSeconds: number
  readonly healthCheck: { readonly enabled: boolean; readonly host: string; readonly port: number }
  /** Task types to offer; `undefined` = every type whose runtime is present. */
  readonly taskTypes: ReadonlyArray<"javascript" | "python"> | undefined
  readonly allowBuiltin: "*" | ReadonlyArray<string>
  readonly allowExternal: "*" | ReadonlyArray<string>
  /** Where allow-listed external packages are found (first entry of NODE_PATH). */
  readonly externalModulesDir: string | undefined
  readonly stdlibAllow: "*" | ReadonlyArray<string>
  readonly pythonExternalAllow: "*" | ReadonlyArray<string>
  readonly builtinsDeny: ReadonlyArray<string>
  readonly blockEnvAccess: boolean
  readonly allowTransitiveImports: boolean
  readonly sandbox: "auto" | "bwrap" | "unshare" | "none"
  /** The Python interpreter (default: the system's python3). */
  readonly pythonPath: string | undefined
  /** A fresh jailed interpreter per Python task instead of a fork of the warm server. */
  readonly pythonStrict: boolean
  readonly heapMb: number
  readonly workerReuse: number
  readonly disableAnalyzer: boolean
  readonly timezone: string
  readonly logLevel: "debug" | "info" | "warn" | "error"
}

/** One entry of `--help`: a variable, its default, and what it does. */
export interface Variable {
  readonly name: string
  readonly fallback: string
  readonly description: string
}

/** Every variable the runner reads, for `--help`. */
export const variables: ReadonlyArray<Variable> = [
  {
    name: "N8N_RUNNERS_TASK_BROKER_URI",
    fallback: Defaults.brokerUri,
    description: "broker address (only host:port is used)"
  },
  { name: "N8N_RUNNERS_GRANT_TOKEN", fallback: "", description: "a grant token from the broker (single use)" },
  {
    name: "N8N_RUNNERS_AUTH_TOKEN",
    fallback: "",
    description: "shared secret: the runner fetches its own grant tokens and can reconnect"
  },
  { name: "N8N_RUNNERS_ID", fallback: "(generated)", description: "runner id; must be unique per runner" },
  { name: "N8N_RUNNERS_MAX_CONCURRENCY", fallback: "5", description: "tasks run at the same time" },
  {
    name: "N8N_RUNNERS_MAX_PAYLOAD",
    fallback: String(Defaults.maxPayloadBytes),
    description: "largest WebSocket message and result, bytes"
  },
  { name: "N8N_RUNNERS_TASK_TIMEOUT", fallback: "60", description: "seconds a task may take, from its acceptance" },
  {
    name: "N8N_RUNNERS_AUTO_SHUTDOWN_TIMEOUT",
    fallback: "0",
    description: "exit after this many idle seconds (0 = never)"
  },
  {
    name: "N8N_RUNNERS_GRACEFUL_SHUTDOWN_TIMEOUT",
    fallback: "10",
    description: "seconds running tasks get on SIGTERM/SIGINT"
  },
  { name: "N8N_RUNNERS_RECONNECT_INTERVAL", fallback: "5", description: "seconds between connection attempts" },
  {
    name: "N8N_RUNNERS_HEALTH_CHECK_SERVER_ENABLED",
    fallback: "false",
    description: "serve GET /healthz and GET /metrics"
  },
  {
    name: "N8N_RUNNERS_HEALTH_CHECK_SERVER_HOST",
    fallback: Defaults.healthCheckHost,
    description: "address of the health server"
  },
  {
    name: "N8N_RUNNERS_HEALTH_CHECK_SERVER_PORT",
    fallback: String(Defaults.healthCheckPort),
    description: "port of the health server"
  },
  {
    name: "N8N_RUNNERS_TASK_TYPES",
    fallback: "(every type whose runtime is present)",
    description: "comma list of javascript, python"
  },
  {
    name: "NODE_FUNCTION_ALLOW_BUILTIN",
    fallback: "",
    description: "built-in modules JavaScript may require (* = all)"
  },
  {
    name: "NODE_FUNCTION_ALLOW_EXTERNAL",
    fallback: "",
    description: "external packages JavaScript may require (* = all)"
  },
  { name: "NODE_PATH", fallback: "", description: "its first folder holds the allow-listed external packages" },
  {
    name: "N8N_RUNNERS_STDLIB_ALLOW",
    fallback: "",
    description: "Python standard-library modules that may be imported (* = all)"
  },
  { name: "N8N_RUNNERS_EXTERNAL_ALLOW", fallback: "", description: "Python packages that may be imported (* = all)" },
  {
    name: "N8N_RUNNERS_BUILTINS_DENY",
    fallback: "eval,exec,compile,open,...",
    description: "Python builtins removed (empty = none)"
  },
  { name: "N8N_BLOCK_RUNNER_ENV_ACCESS", fallback: "true", description: "Python tasks see an empty os.environ" },
  {
    name: "N8N_RUNNERS_ALLOW_TRANSITIVE_IMPORTS",
    fallback: "false",
    description: "imports made by allowed Python packages skip the allow-lists"
  },
  { name: "N8N_RUNNERS_SANDBOX", fallback: "auto", description: "jail tier: auto, bwrap, unshare or none" },
  {
    name: "N8N_RUNNERS_PYTHON",
    fallback: "/usr/bin/python3",
    description: "Python interpreter for python tasks (3.10 or newer)"
  },
  {
    name: "N8N_RUNNERS_PYTHON_STRICT",
    fallback: "false",
    description: "a fresh jailed interpreter per Python task (slower, stronger)"
  },
  { name: "N8N_RUNNERS_MAX_OLD_SPACE_SIZE", fallback: "1024", description: "heap limit of a task's process, MB" },
  {
    name: "N8N_RUNNERS_WORKER_REUSE",
    fallback: "1",
    description: "tasks one process may run (1 = a fresh process per task)"
  },
  {
    name: "N8N_RUNNERS_TEST_DISABLE_ANALYZER",
    fallback: "false",
    description: "switches static analysis off (tests only; logged loudly)"
  },
  { name: "GENERIC_TIMEZONE", fallback: "America/New_York", description: "time zone of $now and DateTime" },
  { name: "N8N_LOG_LEVEL", fallback: "info", description: "debug, info, warn or error" }
]

/** n8n's Python runner removes these builtins unless told otherwise. */
export const defaultBuiltinsDeny =
  "eval,exec,compile,open,input,breakpoint,getattr,object,type,vars,setattr,delattr,hasattr,dir,memoryview,__build_class__,globals,locals,license,help,credits,copyright"

const positive = (name: string, fallback: number, message: string) =>
  Config.number(name).pipe(
    Config.withDefault(fallback),
    Config.validate({ message, validation: (n) => n > 0 })
  )

const nonNegativeInt = (name: string, fallback: number) =>
  Config.integer(name).pipe(
    Config.withDefault(fallback),
    Config.validate({ message: `${name} must be 0 or more`, validation: (n) => n >= 0 })
  )

const optionalString = (name: string) =>
  Config.string(name).pipe(Config.option, Config.map(Option.filter((value) => value.trim() !== "")))

const optionalSecret = (name: string) =>
  Config.redacted(name).pipe(Config.option, Config.map(Option.filter((value) => Redacted.value(value).trim() !== "")))

const allowList = (name: string) => Config.string(name).pipe(Config.withDefault(""), Config.map(parseAllowList))

/** n8n's booleans: `true` or `1` (case-insensitive). */
const flag = (name: string, fallback: boolean) =>
  Config.string(name).pipe(
    Config.withDefault(String(fallback)),
    Config.map((value) => ["true", "1"].includes(value.trim().toLowerCase()))
  )

const hostOf = (uri: string): Either.Either<string, string> => {
  try {
    const url = new URL(uri.includes("://") ? uri : `http://${uri}`)
    if (url.host === "") return Either.left(`N8N_RUNNERS_TASK_BROKER_URI has no host: ${uri}`)
    return Either.right(url.host)
  } catch {
    return Either.left(`N8N_RUNNERS_TASK_BROKER_URI is not a valid URI: ${uri}`)
  }
}

const invalid = (message: string) => ConfigError.InvalidData([], message)

const taskTypes = Config.string("N8N_RUNNERS_TASK_TYPES").pipe(
  Config.option,
  Config.mapOrFail((value) => {
    if (Option.isNone(value) || value.value.trim() === "") return Either.right(undefined)
    const types = value.value.split(",").map((t) => t.trim()).filter((t) => t !== "")
    const unknown = types.filter((t) => t !== "javascript" && t !== "python")
    return unknown.length > 0
      ? Either.left(invalid(`N8N_RUNNERS_TASK_TYPES accepts javascript and python, got ${unknown.join(", ")}`))
      : Either.right([...new Set(types)] as Array<"javascript" | "python">)
  })
)

/** Reads every setting, failing at start with one clear line naming the variable. */
export const runnerSettings: Config.Config<RunnerSettings> = Config.all({
  brokerUri: Config.string("N8N_RUNNERS_TASK_BROKER_URI").pipe(Config.withDefault(Defaults.brokerUri)),
  grantToken: optionalSecret("N8N_RUNNERS_GRANT_TOKEN"),
  authToken: optionalSecret("N8N_RUNNERS_AUTH_TOKEN"),
  runnerId: optionalString("N8N_RUNNERS_ID"),
  name: Config.string("N8N_RUNNERS_NAME").pipe(Config.withDefault("Secure Task Runner")),
  maxConcurrency: Config.integer("N8N_RUNNERS_MAX_CONCURRENCY").pipe(
    Config.withDefault(5),
    Config.validate({ message: "Max concurrency must be at least 1", validation: (n) => n >= 1 })
  ),
  maxPayloadBytes: Config.integer("N8N_RUNNERS_MAX_PAYLOAD").pipe(
    Config.withDefault(Defaults.maxPayloadBytes),
    Config.validate({ message: "Max payload size must be positive", validation: (n) => n > 0 }),
    Config.validate({
      message: "Max payload size exceeds pipe message limit",
      validation: (n) => n <= Defaults.pipeMessageLimitBytes
    })
  ),
  taskTimeoutSeconds: positive("N8N_RUNNERS_TASK_TIMEOUT", 60, "Task timeout must be positive"),
  autoShutdownTimeoutSeconds: nonNegativeInt("N8N_RUNNERS_AUTO_SHUTDOWN_TIMEOUT", 0),
  gracefulShutdownTimeoutSeconds: positive(
    "N8N_RUNNERS_GRACEFUL_SHUTDOWN_TIMEOUT",
    10,
    "Graceful shutdown timeout must be positive"
  ),
  reconnectIntervalSeconds: positive("N8N_RUNNERS_RECONNECT_INTERVAL", 5, "Reconnect interval must be positive"),
  healthEnabled: flag("N8N_RUNNERS_HEALTH_CHECK_SERVER_ENABLED", false),
  healthHost: Config.string("N8N_RUNNERS_HEALTH_CHECK_SERVER_HOST").pipe(Config.withDefault(Defaults.healthCheckHost)),
  healthPort: Config.integer("N8N_RUNNERS_HEALTH_CHECK_SERVER_PORT").pipe(
    Config.withDefault(Defaults.healthCheckPort),
    Config.validate({
      message: "Health check port must be between 0 and 65535",
      validation: (n) => n >= 0 && n <= 65535
    })
  ),
  taskTypes,
  allowBuiltin: allowList("NODE_FUNCTION_ALLOW_BUILTIN"),
  allowExternal: allowList("NODE_FUNCTION_ALLOW_EXTERNAL"),
  nodePath: optionalString("NODE_PATH"),
  stdlibAllow: allowList("N8N_RUNNERS_STDLIB_ALLOW"),
  pythonExternalAllow: allowList("N8N_RUNNERS_EXTERNAL_ALLOW"),
  builtinsDeny: Config.string("N8N_RUNNERS_BUILTINS_DENY").pipe(
    Config.withDefault(defaultBuiltinsDeny),
    Config.map((v) => v.split(",").map((s) => s.trim()).filter((s) => s !== ""))
  ),
  blockEnvAccess: flag("N8N_BLOCK_RUNNER_ENV_ACCESS", true),
  allowTransitiveImports: flag("N8N_RUNNERS_ALLOW_TRANSITIVE_IMPORTS", false),
  pythonPath: optionalString("N8N_RUNNERS_PYTHON"),
  pythonStrict: flag("N8N_RUNNERS_PYTHON_STRICT", false),
  sandbox: Config.literal("auto", "bwrap", "unshare", "none")("N8N_RUNNERS_SANDBOX").pipe(
    Config.withDefault("auto" as const)
  ),
  heapMb: Config.integer("N8N_RUNNERS_MAX_OLD_SPACE_SIZE").pipe(
    Config.withDefault(1024),
    Config.validate({ message: "N8N_RUNNERS_MAX_OLD_SPACE_SIZE must be at least 16 (MB)", validation: (n) => n >= 16 })
  ),
  workerReuse: Config.integer("N8N_RUNNERS_WORKER_REUSE").pipe(
    Config.withDefault(1),
    Config.validate({ message: "N8N_RUNNERS_WORKER_REUSE must be at least 1", validation: (n) => n >= 1 })
  ),
  disableAnalyzer: flag("N8N_RUNNERS_TEST_DISABLE_ANALYZER", false),
  timezone: Config.string("GENERIC_TIMEZONE").pipe(Config.withDefault("America/New_York")),
  logLevel: Config.string("N8N_LOG_LEVEL").pipe(
    Config.orElse(() => Config.string("N8N_RUNNERS_LAUNCHER_LOG_LEVEL")),
    Config.withDefault("info"),
    Config.map((v) => v.trim().toLowerCase()),
    Config.validate({
      message: "N8N_LOG_LEVEL must be one of debug, info, warn, error",
      validation: (v): v is RunnerSettings["logLevel"] => ["debug", "info", "warn", "error"].includes(v)
    })
  )
}).pipe(
  Config.mapOrFail((raw) =>
    Either.map(
      Either.mapLeft(hostOf(raw.brokerUri), invalid),
      (brokerHost): RunnerSettings => ({
        brokerHost,
        grantToken: raw.grantToken,
        authToken: raw.authToken,
        runnerId: raw.runnerId,
        name: raw.name,
        maxConcurrency: raw.maxConcurrency,
        maxPayloadBytes: raw.maxPayloadBytes,
        taskTimeoutSeconds: raw.taskTimeoutSeconds,
        autoShutdownTimeoutSeconds: raw.autoShutdownTimeoutSeconds,
        gracefulShutdownTimeoutSeconds: raw.gracefulShutdownTimeoutSeconds,
        reconnectIntervalSeconds: raw.reconnectIntervalSeconds,
        healthCheck: { enabled: raw.healthEnabled, host: raw.healthHost, port: raw.healthPort },
        taskTypes: raw.taskTypes,
        allowBuiltin: raw.allowBuiltin,
        allowExternal: raw.allowExternal,
        externalModulesDir: Option.getOrUndefined(Option.map(raw.nodePath, (p) => p.split(":")[0]!)),
        stdlibAllow: raw.stdlibAllow,
        pythonExternalAllow: raw.pythonExternalAllow,
        builtinsDeny: raw.builtinsDeny,
        blockEnvAccess: raw.blockEnvAccess,
        allowTransitiveImports: raw.allowTransitiveImports,
        sandbox: raw.sandbox,
        pythonPath: Option.getOrUndefined(raw.pythonPath),
        pythonStrict: raw.pythonStrict,
        heapMb: raw.heapMb,
        workerReuse: raw.workerReuse,
        disableAnalyzer: raw.disableAnalyzer,
        timezone: raw.timezone,
        logLevel: raw.logLevel as RunnerSettings["logLevel"]
      })
    )
  ),
  Config.validate({
    message: "Environment variable N8N_RUNNERS_GRANT_TOKEN is required",
    validation: (s) => Option.isSome(s.grantToken) || Option.isSome(s.authToken)
  })
)

/** The runner's settings. */
export class RunnerConfig extends Context.Tag("@taskrunner/runner/RunnerConfig")<RunnerConfig, RunnerSettings>() {
  /** Settings from the environment. */
  static readonly layerConfig = Layer.effect(RunnerConfig, Effect.map(runnerSettings, (s) => RunnerConfig.of(s)))

  /** Fixed settings (tests). */
  static readonly layer = (settings: RunnerSettings) => Layer.succeed(RunnerConfig, RunnerConfig.of(settings))
}

/**
 * The process environment with n8n's conventions (`<NAME>_FILE`, quotes). The only place that
 * reads `process.env`.
 */
export const environmentProvider = Effect.map(
  resolveN8nEnv(process.env, (path) => readFileSync(path, "utf8")),
  (env) => n8nConfigProvider(env)
)

/** A provider for tests: exactly these variables. */
export const providerOf = (env: Readonly<Record<string, string>>): ConfigProvider.ConfigProvider =>
  ConfigProvider.fromMap(new Map(Object.entries(env)))
