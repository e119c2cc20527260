// The publishing check: every publishable package goes to a throwaway local registry (verdaccio on
// 127.0.0.1), then an empty folder installs the runner and the mock broker from that registry
// alone, starts both, submits a task with the mock broker's CLI and checks the answer. Missing
// files, wrong `exports`/`bin` and undeclared dependencies fail it.
//
//   node tooling/publish/check.mjs        (after `pnpm build`)
import { execFileSync } from "node:child_process"
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { freePort, startProcess } from "../lib/processes.mjs"

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..")
// 6.1: the last line that runs on Node 20 (6.10 needs Node 22).
const verdaccioVersion = "6.1.6"
const cacheDir = join(root, ".cache", "publish", `verdaccio-${verdaccioVersion}`)
const publishable = ["packages/protocol", "packages/analyzer", "packages/executor", "apps/runner", "apps/mock-broker"]
const started = []
const log = (line) => console.log(`== publish check: ${line}`)

const run = (file, args, options = {}) => execFileSync(file, args, { stdio: ["ignore", "pipe", "pipe"], ...options })
const npm = process.platform === "win32" ? "npm.cmd" : "npm"
const pnpm = process.platform === "win32" ? "pnpm.cmd" : "pnpm"

const start = (file, args, env, pattern, what) => startProcess(file, args, { env, pattern, what, started })

/** Verdaccio, installed once into .cache (its own folder: it is not a workspace dependency). */
const ensureVerdaccio = () => {
  const bin = join(cacheDir, "node_modules", "verdaccio", "bin", "verdaccio")
  if (existsSync(bin)) return bin
  mkdirSync(cacheDir, { recursive: true })
  // node-fetch's `cjs` dist-tag, which a dependency asks for, is missing from some registry mirrors.
  writeFileSync(
    join(cacheDir, "package.json"),
    JSON.stringify({ name: "publish-check-cache", private: true, overrides: { "node-fetch": "2.7.0" } })
  )
  log(`installing verdaccio ${verdaccioVersion} into ${cacheDir}`)
  run(npm, ["install", "--no-save", "--no-audit", "--no-fund", `verdaccio@${verdaccioVersion}`], { cwd: cacheDir })
  return bin
}

const main = async () => {
  const verdaccio = ensureVerdaccio()
  const work = mkdtempSync(join(tmpdir(), "taskrunner-publish-"))
  try {
    const port = await freePort()
    const registry = `http://127.0.0.1:${port}/`
    const upstream = run(npm, ["config", "get", "registry"]).toString().trim() || "https://registry.npmjs.org/"
    writeFileSync(
      join(work, "verdaccio.yaml"),
      [
        `storage: ${join(work, "storage")}`,
        "auth:",
        "  htpasswd:",
        `    file: ${join(work, "htpasswd")}`,
        "    max_users: 10",
        "uplinks:",
        "  npmjs:",
        `    url: ${upstream}`,
        "packages:",
        // Our packages come from here only; everything else through the uplink.
        "  '@taskrunner/*':",
        "    access: $all",
        "    publish: $authenticated",
        "  '**':",
        "    access: $all",
        "    proxy: npmjs",
        "log: { type: stdout, format: pretty, level: warn }",
        ""
      ].join("\n")
    )
    await start(
      process.execPath,
      [verdaccio, "--config", join(work, "verdaccio.yaml"), "--listen", `127.0.0.1:${port}`],
      // The whole environment: the uplink may need the machine's CA settings (NODE_EXTRA_CA_CERTS, ...).
      { ...process.env, HOME: work },
      /http address|listening|verdaccio\/\d/i,
      "verdaccio"
    ).catch(async (error) => {
      // Some versions print nothing at level warn: fall back to polling the ping endpoint.
      if (!String(error.message).includes("did not start")) throw error
    })
    for (let i = 0;; i++) {
      const ok = await fetch(`${registry}-/ping`).then((r) => r.ok, () => false)
      if (ok) break
      if (i > 300) throw new Error("verdaccio does not answer /-/ping")
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    log(`local registry on ${registry}`)

    // A user to publish as (the registry's own sign-up endpoint, as `npm adduser` uses it).
    const signup = await fetch(`${registry}-/user/org.couchdb.user:ci`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "ci", password: "ci-password-1", email: "ci@example.invalid", type: "user" })
    })
    const { token } = await signup.json()
    if (!signup.ok || typeof token !== "string") {
      throw new Error(`could not sign up with the registry: ${signup.status}`)
    }
    const npmrc = join(work, "npmrc")
    writeFileSync(npmrc, `registry=${registry}\n//127.0.0.1:${port}/:_authToken=${token}\n`)

    // pnpm packs (turning workspace: and catalog: versions into real ones); npm publishes the tarball.
    const tarballs = join(work, "tarballs")
    mkdirSync(tarballs)
    const versions = {}
    for (const dir of publishable) {
      const manifest = JSON.parse(readFileSync(join(root, dir, "package.json"), "utf8"))
      versions[manifest.name] = manifest.version
      run(pnpm, ["pack", "--pack-destination", tarballs], { cwd: join(root, dir) })
    }
    for (const file of readdirSync(tarballs)) {
      run(npm, ["publish", join(tarballs, file), "--userconfig", npmrc, "--registry", registry])
      log(`published ${file}`)
    }

    /** Installs our packages (at the versions published) into `dir` from the local registry only. */
    const installFromRegistry = (dir, names) =>
      run(npm, [
        "install",
        "--no-audit",
        "--no-fund",
        "--userconfig",
        npmrc,
        "--registry",
        registry,
        ...names.map((name) => `${name}@${versions[name]}`)
      ], { cwd: dir })

    // An empty folder installs the two apps from the local registry only.
    const app = join(work, "app")
    mkdirSync(app)
    writeFileSync(join(app, "package.json"), JSON.stringify({ name: "publish-check-app", private: true }))
    installFromRegistry(app, ["@taskrunner/runner", "@taskrunner/mock-broker"])
    log("installed @taskrunner/runner and @taskrunner/mock-broker from the local registry")

    const env = { PATH: process.env.PATH ?? "", HOME: work, N8N_RUNNERS_AUTH_TOKEN: "publish-check-token" }
    const bin = join(app, "node_modules", ".bin")
    const broker = await start(
      join(bin, "mock-broker"),
      ["--port", "0"],
      env,
      /Mock broker listening on (http:\/\/[\d.:]+)/,
      "the mock broker"
    )
    const url = broker.match[1]
    await start(
      join(bin, "taskrunner"),
      [],
      { ...env, N8N_RUNNERS_TASK_BROKER_URI: url },
      /[Rr]egistered/,
      "the runner"
    )
    for (let i = 0;; i++) {
      const runners = await (await fetch(`${url}/api/runners`)).json()
      if (runners.some((r) => r.openOffers > 0)) break
      if (i > 200) throw new Error(`the runner never offered: ${JSON.stringify(runners)}`)
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    writeFileSync(join(app, "code.js"), "return $input.all().map((item) => ({ json: { doubled: item.json.n * 2 } }))")
    writeFileSync(join(app, "items.json"), JSON.stringify([{ json: { n: 21 } }, { json: { n: 2 } }]))
    const answer = JSON.parse(
      run(join(bin, "mock-broker"), [
        "submit",
        "--type",
        "javascript",
        "--file",
        join(app, "code.js"),
        "--items",
        join(app, "items.json"),
        "--url",
        url
      ], { env }).toString()
    )
    const expected = JSON.stringify([{ json: { doubled: 42 } }, { json: { doubled: 4 } }])
    if (answer.status !== "success" || JSON.stringify(answer.result) !== expected) {
      throw new Error(`unexpected answer: ${JSON.stringify(answer)}`)
    }
    log(`a task ran through the installed packages: ${JSON.stringify(answer.result)}`)

    // The libraries: installed the same way, imported through their `exports`, with their types.
    const lib = join(work, "lib")
    mkdirSync(lib)
    writeFileSync(
      join(lib, "package.json"),
      JSON.stringify({ name: "publish-check-lib", private: true, type: "module" })
    )
    const libraries = ["@taskrunner/protocol", "@taskrunner/analyzer", "@taskrunner/executor"]
    installFromRegistry(lib, libraries)
    writeFileSync(
      join(lib, "check.js"),
      [
        "import { MessageCodec } from '@taskrunner/protocol'",
        "import { SecurityAnalyzer, javaScriptDataNeeds } from '@taskrunner/analyzer'",
        "import { CodeExecutor, defaultExecutorOptions } from '@taskrunner/executor'",
        "const decoded = MessageCodec.decodeBrokerMessage(JSON.stringify({ type: 'broker:inforequest' }))",
        "if (decoded._tag !== 'Right') throw new Error('protocol: ' + JSON.stringify(decoded))",
        "if (!javaScriptDataNeeds('return $json.a').input) throw new Error('analyzer: data needs')",
        "if (typeof SecurityAnalyzer !== 'function' || typeof CodeExecutor !== 'function') throw new Error('missing services')",
        "if (typeof defaultExecutorOptions.poolSize !== 'number') throw new Error('executor options')",
        "console.log('libraries ok')",
        ""
      ].join("\n")
    )
    const imported = run(process.execPath, [join(lib, "check.js")], { cwd: lib }).toString()
    if (!imported.includes("libraries ok")) throw new Error(`importing the libraries: ${imported}`)
    for (const name of libraries) {
      const manifest = JSON.parse(readFileSync(join(lib, "node_modules", name, "package.json"), "utf8"))
      const types = manifest.exports?.["."]?.types
      if (typeof types !== "string" || !existsSync(join(lib, "node_modules", name, types))) {
        throw new Error(`${name}: its exports name no types file that is there (${types})`)
      }
      if (JSON.stringify(manifest).includes("workspace:") || JSON.stringify(manifest).includes("catalog:")) {
        throw new Error(`${name}: published with workspace or catalog versions`)
      }
    }
    log(`imported ${libraries.join(", ")} through their exports; types present`)
    log("passed")
  } finally {
    for (const child of started) child.kill("SIGKILL")
    rmSync(work, { recursive: true, force: true })
  }
}

main().catch((error) => {
  for (const child of started) child.kill("SIGKILL")
  console.error(`== publish check FAILED: ${error instanceof Error ? error.message : String(error)}`)
  if (error?.stderr !== undefined) console.error(String(error.stderr))
  process.exit(1)
})
