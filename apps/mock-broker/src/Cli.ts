import { Command, Options } from "@effect/cli"
import { FileSystem } from "@effect/platform"
import { Defaults, describeConfigError } from "@taskrunner/protocol"
import { Console, Data, Effect, Layer, Logger, LogLevel, Option, Redacted } from "effect"
import { request } from "node:http"
import { request as requestTls } from "node:https"
import { BrokerConfig, environmentProvider, logLevel } from "./BrokerConfig.js"
import { BrokerServer } from "./BrokerServer.js"
import { GrantTokens } from "./GrantTokens.js"
import { TaskBroker } from "./TaskBroker.js"

/** How the process should exit: 0 success, 1 task error, 2 usage error. */
export class Exit extends Data.TaggedError("Exit")<{ readonly code: 0 | 1 | 2; readonly message?: string }> {}

/** The whole broker: settings, grant tokens, the broker core and its server. */
export const BrokerLive = BrokerServer.layer.pipe(
  Layer.provideMerge(GrantTokens.layer),
  Layer.provideMerge(TaskBroker.layer),
  Layer.provideMerge(BrokerConfig.layerConfig)
)

const envHelp = [
  "Settings come from n8n's variables (a <NAME>_FILE variant reads a value from a file):",
  "N8N_RUNNERS_BROKER_LISTEN_ADDRESS (127.0.0.1), N8N_RUNNERS_BROKER_PORT (5679; 0 = any free port),",
  "N8N_RUNNERS_AUTH_TOKEN (random if unset; printed), N8N_RUNNERS_GRANT_TOKEN_TTL (30 s),",
  "N8N_RUNNERS_MAX_PAYLOAD (1073741824 bytes), N8N_RUNNERS_TASK_TIMEOUT (300 s),",
  "N8N_RUNNERS_TASK_REQUEST_TIMEOUT (60 s), N8N_RUNNERS_TASK_ACCEPT_TIMEOUT (2 s),",
  "N8N_RUNNERS_HEARTBEAT_INTERVAL (30 s), N8N_GRACEFUL_SHUTDOWN_TIMEOUT (30 s),",
  "N8N_RUNNERS_MOCK_RATE_LIMIT (auth requests and upgrades per second, 5; 0 = off), N8N_LOG_LEVEL (info).",
  "Task API on the same port: POST /api/tasks, GET /api/tasks, GET /api/runners, POST /api/tasks/<id>/cancel."
].join("\n")

const host = Options.text("host").pipe(
  Options.withDescription("Address to listen on (overrides N8N_RUNNERS_BROKER_LISTEN_ADDRESS)"),
  Options.optional
)
const port = Options.integer("port").pipe(
  Options.withAlias("p"),
  Options.withDescription("Port to listen on, 0 for any free port (overrides N8N_RUNNERS_BROKER_PORT)"),
  Options.optional
)
const authToken = Options.redacted("auth-token").pipe(
  Options.withDescription("Shared secret runners exchange for grant tokens (overrides N8N_RUNNERS_AUTH_TOKEN)"),
  Options.optional
)

const serve = Command.make("mock-broker", { host, port, authToken }, (flags) => {
  const overrides = new Map<string, string>()
  if (Option.isSome(flags.host)) overrides.set("N8N_RUNNERS_BROKER_LISTEN_ADDRESS", flags.host.value)
  if (Option.isSome(flags.port)) overrides.set("N8N_RUNNERS_BROKER_PORT", String(flags.port.value))
  if (Option.isSome(flags.authToken)) overrides.set("N8N_RUNNERS_AUTH_TOKEN", Redacted.value(flags.authToken.value))
  return Effect.gen(function*() {
    const provider = yield* environmentProvider(overrides)
    const level = yield* logLevel.pipe(Effect.withConfigProvider(provider))
    const Banner = Layer.effectDiscard(Effect.gen(function*() {
      const address = yield* BrokerServer
      const config = yield* BrokerConfig
      yield* Console.log(`Mock broker listening on ${address.url}`)
      if (config.authTokenGenerated) {
        yield* Console.log(
          `No N8N_RUNNERS_AUTH_TOKEN was set; runners must use this one: ${Redacted.value(config.authToken)}`
        )
      }
    }))
    yield* Layer.launch(Banner.pipe(Layer.provide(BrokerLive))).pipe(
      Effect.withConfigProvider(provider),
      Logger.withMinimumLogLevel(
        LogLevel.fromLiteral(
          level === "warn" ? "Warning" : level === "error" ? "Error" : level === "debug" ? "Debug" : "Info"
        )
      )
    )
  }).pipe(
    Effect.catchTags({
      ConfigError: (error) => new Exit({ code: 2, message: `Invalid configuration: ${describeConfigError(error)}` }),
      EnvFileUnreadable: (error) => new Exit({ code: 2, message: error.message }),
      ListenFailed: (error) => new Exit({ code: 1, message: error.message })
    })
  )
}).pipe(Command.withDescription(`Runs the mock n8n task broker.\n\n${envHelp}`))

interface HttpAnswer {
  readonly status: number
  readonly body: string
}

/** POST without client-side timeouts: a task may legitimately run for minutes. */
const postJson = (url: URL, body: unknown) =>
  Effect.async<HttpAnswer, Error>((resume) => {
    const payload = JSON.stringify(body)
    const send = url.protocol === "https:" ? requestTls : request
    const req = send(url, {
      method: "POST",
      headers: { "content-type": "application/json", "content-length": Buffer.byteLength(payload) }
    }, (res) => {
      const chunks: Array<Buffer> = []
      res.on("data", (chunk: Buffer) => chunks.push(chunk))
      res.on("end", () =>
        resume(Effect.succeed({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") })))
      res.on("error", (error) =>
        resume(Effect.fail(error)))
    })
    req.on("error", (error) => resume(Effect.fail(error)))
    req.end(payload)
  })

const submit = Command.make("submit", {
  type: Options.choice("type", ["javascript", "python"]).pipe(Options.withDescription("Task type")),
  file: Options.file("file", { exists: "yes" }).pipe(Options.withDescription("File with the Code-node code")),
  items: Options.file("items", { exists: "yes" }).pipe(
    Options.withDescription("JSON file with the input items, e.g. [{\"json\": {\"n\": 1}}] (default [{\"json\": {}}])"),
    Options.optional
  ),
  mode: Options.choice("mode", ["all", "each"]).pipe(
    Options.withDescription("Run once for all items (default) or once for each item"),
    Options.withDefault("all" as const)
  ),
  continueOnFail: Options.boolean("continue-on-fail").pipe(
    Options.withDescription("Turn a failure into an output item instead of an error")
  ),
  url: Options.text("url").pipe(
    Options.withDescription(`Broker URL (default ${Defaults.brokerUri})`),
    Options.withDefault(Defaults.brokerUri)
  )
}, (flags) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const code = yield* fs.readFileString(flags.file)
    let items: unknown
    if (Option.isSome(flags.items)) {
      const text = yield* fs.readFileString(flags.items.value)
      try {
        items = JSON.parse(text)
      } catch (error) {
        return yield* new Exit({
          code: 2,
          message: `--items ${flags.items.value} is not valid JSON: ${(error as Error).message}`
        })
      }
    }
    let base: URL
    try {
      base = new URL(flags.url)
    } catch {
      return yield* new Exit({ code: 2, message: `--url ${flags.url} is not a valid URL` })
    }
    const body = {
      taskType: flags.type,
      code,
      nodeMode: flags.mode === "each" ? "runOnceForEachItem" : "runOnceForAllItems",
      ...(items === undefined ? {} : { items }),
      ...(flags.continueOnFail ? { continueOnFail: true } : {})
    }
    const answer = yield* postJson(new URL("/api/tasks", base), body).pipe(
      Effect.mapError((error) =>
        new Exit({ code: 1, message: `Cannot reach the mock broker at ${base.origin}: ${error.message}` })
      )
    )
    let parsed: unknown
    try {
      parsed = JSON.parse(answer.body)
    } catch {
      return yield* new Exit({
        code: 1,
        message: `Unexpected answer (HTTP ${answer.status}): ${answer.body.slice(0, 500)}`
      })
    }
    yield* Console.log(JSON.stringify(parsed, null, 2))
    if (answer.status === 400) return yield* new Exit({ code: 2 })
    if (answer.status !== 200) return yield* new Exit({ code: 1 })
    if ((parsed as { status?: unknown }).status !== "success") return yield* new Exit({ code: 1 })
  }).pipe(Effect.catchTag("SystemError", (error) => new Exit({ code: 2, message: error.message })))).pipe(
    Command.withDescription(
      "Submits a task to a running mock broker and prints the answer as JSON. Exits 0 on success, 1 on a task error, 2 on a usage error."
    )
  )

/** `mock-broker [serve options]` or `mock-broker submit ...`. */
export const cli = serve.pipe(Command.withSubcommands([submit]))
