import { Layer, Logger, LogLevel } from "effect"
import type { RunnerSettings } from "./RunnerConfig.js"

const levels = { debug: LogLevel.Debug, info: LogLevel.Info, warn: LogLevel.Warning, error: LogLevel.Error } as const

/** Human-readable lines on a terminal, JSON lines otherwise (for log collectors); the configured level. */
export const loggingLayer = (level: RunnerSettings["logLevel"], tty: boolean) =>
  Layer.merge(tty ? Logger.pretty : Logger.json, Logger.minimumLogLevel(levels[level]))
