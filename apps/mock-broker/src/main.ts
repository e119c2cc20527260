import { Command, ValidationError } from "@effect/cli"
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Console, Effect, Exit as EffectExit } from "effect"
import packageJson from "../package.json" with { type: "json" }
import { cli } from "./Cli.js"

const run = Command.run(cli, { name: "mock-broker", version: packageJson.version })

const program = run(process.argv).pipe(
  Effect.as(0),
  Effect.catchIf(ValidationError.isValidationError, () => Effect.succeed(2)),
  Effect.catchTag(
    "Exit",
    (exit) =>
      exit.message === undefined ? Effect.succeed(exit.code) : Console.error(exit.message).pipe(Effect.as(exit.code))
  ),
  Effect.provide(NodeContext.layer)
)

NodeRuntime.runMain(program, {
  teardown: (exit, onExit) =>
    onExit(
      EffectExit.isSuccess(exit)
        ? (typeof exit.value === "number" ? exit.value : 0)
        : EffectExit.isInterrupted(exit)
        ? 0
        : 1
    )
})
