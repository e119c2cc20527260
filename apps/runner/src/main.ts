import { Command, ValidationError } from "@effect/cli"
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { defaultJsPolicy, SecurityAnalyzer } from "@taskrunner/analyzer"
import { closeInheritedDescriptors, CodeExecutor } from "@taskrunner/executor"
import { Defaults, describeConfigError } from "@taskrunner/protocol"
import { Console, Effect, Exit, Layer } from "effect"
import packageJson from "../package.json" with { type: "json" }
import { HealthServer } from "./HealthServer.js"
import { loggingLayer } from "./Logging.js"
import { Metrics } from "./Metrics.js"
import { environmentProvider, RunnerConfig, runnerSettings, variables } from "./RunnerConfig.js"
import type { RunnerSettings } from "./RunnerConfig.js"
import { ExitCode, TaskRunner } from "./TaskRunner.js"

if (process.platform === "win32") {
  console.error("Error: This task runner is not supported on Windows. Please use a Unix-like system (Linux or macOS).")
  process.exit(1)
}

// Written by the shutdown (SIGTERM, idle timeout, fatal error) and read when the process exits.
const exitCode = { code: 0 }

const width = Math.max(...variables.map((v) => v.name.length))
const description = [
  "A secure task runner for n8n Code nodes (JavaScript and Python), for n8n's external runner mode.",
  "",
  "Configured by environment variables (a <NAME>_FILE variant reads the value from a file):",
  "",
  ...variables.map((v) =>
    `  ${v.name.padEnd(width)}  ${v.description}${v.fallback === "" ? "" : ` (default: ${v.fallback})`}`
  ),
  "",
  "Either N8N_RUNNERS_GRANT_TOKEN or N8N_RUNNERS_AUTH_TOKEN is required."
].join("\n")

const mainLayer = (settings: RunnerSettings) => {
  const executor = CodeExecutor.layer({
    sandbox: settings.sandbox,
    poolSize: settings.maxConcurrency,
    workerReuse: settings.workerReuse,
    heapMb: settings.heapMb,
    taskTimeoutMs: settings.taskTimeoutSeconds * 1000,
    maxResultBytes: Math.min(settings.maxPayloadBytes, Defaults.pipeMessageLimitBytes) - 1024,
    maxResultDepth: 1000,
    allowBuiltin: settings.allowBuiltin,
    allowExternal: settings.allowExternal,
    externalModulesDir: settings.externalModulesDir,
    nodePath: process.execPath,
    uidBase: 60_000,
    python: settings.taskTypes === undefined || settings.taskTypes.includes("python"),
    pythonPath: settings.pythonPath,
    pythonStrict: settings.pythonStrict,
    stdlibAllow: settings.stdlibAllow,
    pythonExternalAllow: settings.pythonExternalAllow,
    builtinsDeny: settings.builtinsDeny,
    blockEnvAccess: settings.blockEnvAccess,
    allowTransitiveImports: settings.allowTransitiveImports
  })
  // Python is analysed by the interpreter that will run it, which the executor found.
  const analyzer = Layer.unwrapEffect(Effect.map(CodeExecutor, (executor) =>
    SecurityAnalyzer.layer(
      { ...defaultJsPolicy, allowBuiltin: settings.allowBuiltin, allowExternal: settings.allowExternal },
      executor.pythonPath === undefined
        ? undefined
        : {
          stdlibAllow: settings.stdlibAllow,
          externalAllow: settings.pythonExternalAllow,
          pythonPath: executor.pythonPath,
          maxCodeLength: defaultJsPolicy.maxCodeLength,
          timeoutMs: 10_000
        }
    )))
  const base = Layer.mergeAll(RunnerConfig.layer(settings), Metrics.layer, Layer.succeed(ExitCode, exitCode)).pipe(
    Layer.provideMerge(Layer.provideMerge(analyzer, executor))
  )
  return Layer.merge(TaskRunner.layer, HealthServer.layer).pipe(Layer.provideMerge(base))
}

/** Node's IPC channel, when a parent started the runner with one. */
const ipcChannel = ((value) => (value !== undefined && /^\d+$/.test(value) ? Number(value) : undefined))(
  // oxlint-disable-next-line node/no-process-env -- Node's own variable, not configuration
  process.env["NODE_CHANNEL_FD"]
)

const run = Effect.gen(function*() {
  const provider = yield* environmentProvider
  const settings = yield* runnerSettings.pipe(Effect.withConfigProvider(provider))
  // Before any child starts: nothing this process inherited may reach a task.
  const closed = closeInheritedDescriptors(ipcChannel === undefined ? [] : [ipcChannel])
  yield* Effect.gen(function*() {
    if (closed.length > 0) {
      yield* Effect.logInfo(
        `Closed ${closed.length} file descriptor(s) inherited from the parent process (${closed.join(", ")})`
      )
    }
    if (settings.disableAnalyzer) {
      yield* Effect.logWarning(
        "!!! N8N_RUNNERS_TEST_DISABLE_ANALYZER is set: static analysis is OFF. Only the jail protects the runner. Never do this in production. !!!"
      )
    }
    const executor = yield* CodeExecutor
    if (executor.tier !== "bwrap") {
      yield* Effect.logWarning(
        `!!! Tasks run in the weaker "${executor.tier}" sandbox tier, not bwrap: ${
          executor.degradedBecause.join("; ")
        }. Install bubblewrap and allow user namespaces for full isolation. !!!`
      )
    }
    if (executor.pythonUnavailable !== undefined) {
      yield* Effect.logInfo(`Python tasks are not offered: ${executor.pythonUnavailable}`)
    }
    const runner = yield* TaskRunner
    yield* HealthServer
    const stop = yield* runner.stopped
    exitCode.code = stop.code
    yield* runner.shutdown(stop.budgetMs)
  }).pipe(
    Effect.provide(mainLayer(settings)),
    Effect.scoped,
    Effect.provide(loggingLayer(settings.logLevel, process.stdout.isTTY === true))
  )
})

const command = Command.make("taskrunner", {}, () =>
  run.pipe(
    Effect.catchTags({
      ConfigError: (error) => fatal(`Invalid configuration: ${describeConfigError(error)}`),
      EnvFileUnreadable: (error) => fatal(error.message),
      SandboxUnavailable: (error) => fatal(error.message),
      WorkerScriptMissing: (error) => fatal(error.message),
      RunnerStartFailed: (error) => fatal(error.message),
      HealthServerFailed: (error) => fatal(error.message)
    })
  )).pipe(Command.withDescription(description))

const fatal = (message: string) =>
  Console.error(`Error: ${message}`).pipe(Effect.andThen(Effect.sync(() => {
    exitCode.code = 1
  })))

const program = Command.run(command, { name: "taskrunner", version: packageJson.version })(process.argv).pipe(
  Effect.catchIf(ValidationError.isValidationError, () =>
    Effect.sync(() => {
      exitCode.code = 2
    })),
  Effect.provide(NodeContext.layer)
)

NodeRuntime.runMain(program, {
  // The runner picks its own logger (pretty on a terminal, JSON lines otherwise).
  disablePrettyLogger: true,
  teardown: (exit, onExit) =>
    onExit(Exit.isFailure(exit) && !Exit.isInterrupted(exit) ? Math.max(1, exitCode.code) : exitCode.code)
})
