// Static checks of the Docker files (no Docker engine runs here), and a replay of what the images do:
//   1. both Dockerfiles pass dockerfile-utils' linter (Docker's own instruction/flag rules) and our
//      policy (official Node LTS slim Debian base, `pnpm deploy`, non-root USER, HEALTHCHECK, and
//      python3 + bubblewrap in the runner);
//   2. docker-compose.yml resolves with `docker-compose config` (default stack and `mock` profile)
//      and says what the stack needs (n8n pinned 2.x in external mode, broker on 0.0.0.0, the runner
//      pointed at it with the same token, nothing that stops `--scale runner=N`);
//   3. the images' build step (`pnpm deploy --prod`) is replayed into temporary folders and the
//      deployed apps are started with the compose file's runner environment: the image's
//      HEALTHCHECK command passes and a JavaScript and a Python task run.
//
//   node tooling/docker/check.mjs        (after `pnpm build`)
import { execFileSync } from "node:child_process"
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { createRequire } from "node:module"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { freePort, startProcess } from "../lib/processes.mjs"

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..")
const require = createRequire(join(root, "package.json"))
const log = (line) => console.log(`== docker check: ${line}`)
const problems = []
const expect = (ok, problem) => {
  if (!ok) problems.push(problem)
}
const started = []

const dockerfiles = { runner: "apps/runner/Dockerfile", "mock-broker": "apps/mock-broker/Dockerfile" }

// ---------------------------------------------------------------------------------------------
// 1. Dockerfiles

const lintDockerfiles = () => {
  const lint = join(dirname(require.resolve("dockerfile-utils/package.json")), "bin", "dockerfile-utils")
  for (const [app, file] of Object.entries(dockerfiles)) {
    const path = join(root, file)
    try {
      execFileSync(process.execPath, [lint, "lint", path], { stdio: ["ignore", "pipe", "pipe"] })
    } catch (error) {
      problems.push(`${file} does not lint:\n${String(error.stdout)}${String(error.stderr)}`)
    }
    const text = readFileSync(path, "utf8")
    const instructions = text.split("\n").filter((line) => /^[A-Z]+\s/.test(line))
    const froms = instructions.filter((line) => line.startsWith("FROM "))
    const image = /^ARG NODE_IMAGE=(\S+)$/m.exec(text)?.[1] ?? ""
    expect(
      /^node:(22|24)(\.\d+){0,2}-(bookworm|trixie)-slim$/.test(image),
      `${file}: base image ${image} is not an official Node LTS slim Debian image`
    )
    expect(
      froms.length >= 2 && froms.every((line) => line.includes("${NODE_IMAGE}")),
      `${file}: not multi-stage on NODE_IMAGE`
    )
    expect(/pnpm --filter @taskrunner\/[\w-]+ deploy --prod/.test(text), `${file}: does not build with pnpm deploy`)
    const runtime = text.slice(text.lastIndexOf("FROM "))
    const user = /^USER (\S+)$/m.exec(runtime)?.[1]
    expect(
      user !== undefined && user !== "root" && user !== "0",
      `${file}: the runtime stage does not switch to a non-root user`
    )
    expect(/^HEALTHCHECK .*\n?.*\/healthz/m.test(runtime), `${file}: no HEALTHCHECK on /healthz`)
    expect(/^ENTRYPOINT \["node", "\/app\/dist\/main\.js"\]$/m.test(runtime), `${file}: unexpected ENTRYPOINT`)
    if (app === "runner") {
      expect(
        /apt-get install[^\n]*python3[^\n]*bubblewrap/.test(runtime),
        `${file}: python3 and bubblewrap not installed`
      )
    }
  }
  log(`Dockerfiles lint clean and follow the policy (${Object.values(dockerfiles).join(", ")})`)
}

// ---------------------------------------------------------------------------------------------
// 2. docker-compose.yml

const composeConfig = (args) => {
  const yaml = execFileSync("docker-compose", ["-f", join(root, "docker-compose.yml"), ...args, "config"], {
    env: { ...process.env, N8N_RUNNERS_AUTH_TOKEN: "compose-check-token" },
    stdio: ["ignore", "pipe", "pipe"]
  })
  // docker-compose (Debian's) is Python and brings PyYAML: it turns the resolved YAML into JSON.
  const json = execFileSync("python3", ["-c", "import json, sys, yaml; print(json.dumps(yaml.safe_load(sys.stdin)))"], {
    input: yaml
  })
  return JSON.parse(String(json))
}

const checkCompose = () => {
  try {
    execFileSync("docker-compose", ["version"], { stdio: "ignore" })
  } catch {
    log("SKIPPED the compose checks: docker-compose is not installed (.ci/run installs Debian's)")
    return
  }
  const stack = composeConfig([])
  const services = stack.services ?? {}
  // Services without a profile are the default stack; the mock ones only come with `--profile mock`.
  const byDefault = Object.keys(services).filter((name) => (services[name].profiles ?? []).length === 0)
  expect(byDefault.sort().join(",") === "n8n,runner", `the default stack is ${byDefault} (n8n and runner expected)`)
  for (const name of ["mock-broker", "runner-mock"]) {
    expect(JSON.stringify(services[name]?.profiles) === "[\"mock\"]", `${name} is not (only) in the mock profile`)
  }
  const n8n = services.n8n ?? {}
  const n8nEnv = n8n.environment ?? {}
  expect(/^n8nio\/n8n:2\.\d+\.\d+$/.test(n8n.image ?? ""), `n8n image ${n8n.image} is not a pinned 2.x tag`)
  expect(n8nEnv.N8N_RUNNERS_MODE === "external", "n8n is not in external runner mode")
  expect(n8nEnv.N8N_RUNNERS_BROKER_LISTEN_ADDRESS === "0.0.0.0", "n8n's broker does not listen on 0.0.0.0")
  expect(n8nEnv.N8N_RUNNERS_AUTH_TOKEN === "compose-check-token", "n8n does not take N8N_RUNNERS_AUTH_TOKEN")
  expect(n8nEnv.N8N_PYTHON_ENABLED === "true", "Python is not enabled in n8n")
  const runner = services.runner ?? {}
  const runnerEnv = runner.environment ?? {}
  expect(runnerEnv.N8N_RUNNERS_TASK_BROKER_URI === "http://n8n:5679", "the runner does not point at n8n's broker")
  expect(runnerEnv.N8N_RUNNERS_AUTH_TOKEN === "compose-check-token", "the runner does not share the token")
  expect(
    runner.container_name === undefined && runner.ports === undefined,
    "the runner cannot be scaled (fixed name or ports)"
  )
  expect(runnerEnv.N8N_RUNNERS_RUNNER_ID === undefined, "a fixed runner id would clash when scaled")
  expect(runner.build?.dockerfile === "apps/runner/Dockerfile", "the runner is not built from apps/runner/Dockerfile")
  const mock = composeConfig(["--profile", "mock"]).services ?? {}
  expect(mock["mock-broker"] !== undefined && mock["runner-mock"] !== undefined, "the mock profile lacks its services")
  expect(
    mock["runner-mock"]?.environment?.N8N_RUNNERS_TASK_BROKER_URI === "http://mock-broker:5679",
    "the mock profile's runner does not point at the mock broker"
  )
  log("docker-compose.yml resolves (default stack and mock profile) and wires n8n, the broker and the runner")
  return runnerEnv
}

// ---------------------------------------------------------------------------------------------
// 3. The images' build step, replayed

const start = (args, env, pattern, what) =>
  startProcess(process.execPath, args, { env, pattern, what, started }).then(({ match }) => match)

const replay = async (composeRunnerEnv) => {
  const work = mkdtempSync(join(tmpdir(), "taskrunner-docker-"))
  try {
    for (const app of ["runner", "mock-broker"]) {
      execFileSync("pnpm", ["--filter", `@taskrunner/${app}`, "deploy", "--prod", "--legacy", join(work, app)], {
        cwd: root,
        stdio: ["ignore", "pipe", "pipe"]
      })
      expect(existsSync(join(work, app, "dist", "main.js")), `pnpm deploy of ${app} has no dist/main.js`)
    }
    const token = "docker-check-token"
    const broker = await start(
      [join(work, "mock-broker", "dist", "main.js"), "--port", "0"],
      { PATH: process.env.PATH ?? "", N8N_RUNNERS_AUTH_TOKEN: token, N8N_RUNNERS_BROKER_LISTEN_ADDRESS: "127.0.0.1" },
      /Mock broker listening on (http:\/\/[\d.:]+)/,
      "the deployed mock broker"
    )
    const url = broker[1]
    const healthPort = await freePort()
    // The compose file's runner environment (the token and broker address replaced), and the image's ENV.
    const hasBwrap = (() => {
      try {
        execFileSync("bwrap", ["--version"], { stdio: "ignore" })
        return true
      } catch {
        return false
      }
    })()
    const env = {
      PATH: process.env.PATH ?? "",
      ...(composeRunnerEnv ?? {}),
      N8N_RUNNERS_AUTH_TOKEN: token,
      N8N_RUNNERS_TASK_BROKER_URI: url,
      N8N_RUNNERS_SANDBOX: hasBwrap ? "bwrap" : "auto",
      N8N_RUNNERS_HEALTH_CHECK_SERVER_ENABLED: "true",
      N8N_RUNNERS_HEALTH_CHECK_SERVER_HOST: "127.0.0.1",
      N8N_RUNNERS_HEALTH_CHECK_SERVER_PORT: String(healthPort),
      N8N_RUNNERS_STDLIB_ALLOW: "json"
    }
    await start([join(work, "runner", "dist", "main.js")], env, /[Rr]egistered/, "the deployed runner")
    // The image's HEALTHCHECK command, pointed at this health port.
    const dockerfile = readFileSync(join(root, dockerfiles.runner), "utf8")
    const probe = /CMD \["node", "-e", "(.*)"\]/.exec(dockerfile)?.[1]?.replaceAll("5681", String(healthPort))
    expect(probe !== undefined, "the runner's HEALTHCHECK is not a node -e command")
    if (probe !== undefined) execFileSync(process.execPath, ["-e", probe], { stdio: "ignore" })
    for (let i = 0;; i++) {
      const runners = await (await fetch(`${url}/api/runners`)).json()
      if (runners.some((r) => r.openOffers > 0 && r.types.includes("python"))) break
      if (i > 200) throw new Error(`the deployed runner never offered python: ${JSON.stringify(runners)}`)
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    const submit = async (body) =>
      (await fetch(`${url}/api/tasks`, { method: "POST", body: JSON.stringify(body) })).json()
    const js = await submit({ taskType: "javascript", code: "return [{ json: { sum: $input.all().length + 41 } }]" })
    expect(js.status === "success" && js.result?.[0]?.json?.sum === 42, `JavaScript task: ${JSON.stringify(js)}`)
    const py = await submit({ taskType: "python", code: "import json\nreturn [{'json': {'s': json.dumps([1])}}]" })
    expect(py.status === "success" && py.result?.[0]?.json?.s === "[1]", `Python task: ${JSON.stringify(py)}`)
    log(
      `pnpm deploy output runs: health check passed, JavaScript and Python tasks answered (jail: ${env.N8N_RUNNERS_SANDBOX})`
    )
  } finally {
    for (const child of started) child.kill("SIGKILL")
    rmSync(work, { recursive: true, force: true })
  }
}

const main = async () => {
  lintDockerfiles()
  const runnerEnv = checkCompose()
  await replay(runnerEnv)
  if (problems.length > 0) {
    console.error(`== docker check FAILED:\n${problems.map((p) => `  - ${p}`).join("\n")}`)
    process.exit(1)
  }
  log("passed")
}

main().catch((error) => {
  for (const child of started) child.kill("SIGKILL")
  console.error(`== docker check FAILED: ${error instanceof Error ? error.message : String(error)}`)
  process.exit(1)
})
