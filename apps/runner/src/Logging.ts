import { Layer, Logger, LogLevel } from "effect"
import type { RunnerSettings } from "./RunnerConfig.js"

const levels = { debug: LogLevel.Debug, info: LogLevel.Info, warn: LogLevel.Warning, error: LogLevel.Error } as const

/**
 * JSON lines for log collectors, written in batches: the lines logged while the event loop is busy
 * go out in one write once it is free (a write to a pipe wakes its reader: one per task adds up at
 * hundreds of tasks a second), and whatever is pending is written before the process exits.
 */
const batchedJsonLogger = () => {
  let pending: Array<string> = []
  const flush = () => {
    if (pending.length === 0) return
    const text = `${pending.join("\n")}\n`
    pending = []
    process.stdout.write(text)
  }
  process.on("exit", flush)
  return Logger.map(Logger.jsonLogger, (line) => {
    if (pending.length === 0) setImmediate(flush)
    pending.push(line)
  })
}

/** Human-readable lines on a terminal, JSON lines otherwise (for log collectors); the configured level. */
export const loggingLayer = (level: RunnerSettings["logLevel"], tty: boolean) =>
  Layer.merge(
    tty ? Logger.pretty : Logger.replace(Logger.defaultLogger, batchedJsonLogger()),
    Logger.minimumLogLevel(levels[level])
  )
