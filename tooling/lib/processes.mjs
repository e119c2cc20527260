// Process helpers shared by the tooling scripts (packaging checks, benchmarks).
import { spawn } from "node:child_process"
import { createServer } from "node:net"

/** A TCP port free on 127.0.0.1 right now. */
export const freePort = () =>
  new Promise((resolve) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })

/**
 * Starts `file args` (recorded in `started`, for the caller to kill) and resolves once its output
 * matches `pattern` with `{child, match}` — at once when there is no pattern. Rejects if it exits
 * first or prints no match within 60 s. `detached` gives it a process group of its own.
 */
export const startProcess = (file, args, { env, pattern, what, started, detached = false }) =>
  new Promise((resolve, reject) => {
    const child = spawn(file, args, { env, stdio: ["ignore", "pipe", "pipe"], detached })
    started.push(child)
    let output = ""
    const timer = setTimeout(() => reject(new Error(`${what} did not start in 60 s:\n${output}`)), 60_000)
    const onData = (chunk) => {
      output += String(chunk)
      if (output.length > 100_000) output = output.slice(-50_000)
      const match = pattern === undefined ? null : pattern.exec(output)
      if (match !== null) {
        clearTimeout(timer)
        resolve({ child, match })
      }
    }
    child.stdout.on("data", onData)
    child.stderr.on("data", onData)
    child.on("exit", (code) => {
      clearTimeout(timer)
      reject(new Error(`${what} exited with ${code}:\n${output}`))
    })
    if (pattern === undefined) {
      clearTimeout(timer)
      resolve({ child, match: null })
    }
  })
