import { execFileSync } from "node:child_process"
import { existsSync, mkdirSync, writeFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

/** The version of `@n8n/task-runner` the compatibility suite runs against (n8n 2.41 ships it). */
export const officialRunnerVersion = "2.41.1"

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "..", "..")

/** Outside the workspace install on purpose: the package and its dependencies are ~350 MB. */
export const cacheDir = join(repoRoot, ".cache", "compat", `n8n-task-runner-${officialRunnerVersion}`)

/** The official runner's entry point (`node <this>` starts it). */
export const officialRunnerStart = join(cacheDir, "node_modules", "@n8n", "task-runner", "dist", "start.js")

/**
 * Installs the official runner unless it is already there, and returns its entry point.
 * Dependency build scripts are skipped: `isolated-vm` does not compile on Node 20 and is not
 * needed to run Code-node JavaScript.
 */
export const ensureOfficialRunner = () => {
  if (existsSync(officialRunnerStart)) return officialRunnerStart
  mkdirSync(cacheDir, { recursive: true })
  // An own package.json keeps npm from treating the workspace root as the project.
  writeFileSync(join(cacheDir, "package.json"), JSON.stringify({ name: "taskrunner-compat-cache", private: true }))
  const npm = process.platform === "win32" ? "npm.cmd" : "npm"
  execFileSync(npm, [
    "install",
    "--no-save",
    "--ignore-scripts",
    "--no-audit",
    "--no-fund",
    "--prefix",
    cacheDir,
    `@n8n/task-runner@${officialRunnerVersion}`
  ], { stdio: "inherit" })
  if (!existsSync(officialRunnerStart)) throw new Error(`npm finished but ${officialRunnerStart} is missing`)
  return officialRunnerStart
}
