import { Data, Effect } from "effect"
import { execFileSync, spawnSync } from "node:child_process"
import { accessSync, constants, existsSync, realpathSync } from "node:fs"
import { dirname } from "node:path"

/**
 * The jail around each task's process (security-model.md, layer 1). Tiers, strongest first:
 * `bwrap` (bubblewrap: new mount/PID/IPC/UTS/network namespaces, only the files the child needs,
 * private /tmp, empty environment), `unshare` (new network/PID/IPC namespaces, no file isolation
 * beyond Node's permission model), `none` (empty environment and resource limits only). All tiers
 * add `prlimit` limits and, with `setpriv`, no-new-privileges, a death signal and (as root) an
 * unprivileged user per task.
 */
export type SandboxTier = "bwrap" | "unshare" | "none"

/** Size of the jail's private /tmp (a tmpfs, so memory). */
const jailTmpBytes = 64 * 1024 * 1024

/** What the operator asked for (`N8N_RUNNERS_SANDBOX`). */
export type SandboxSetting = "auto" | SandboxTier

/** Resource limits of one task's process. */
export interface ProcessLimits {
  /** V8 heap (`--max-old-space-size`), MB. */
  readonly heapMb: number
  /** Address space (RLIMIT_AS), MB: the heap plus Node's reservations and off-heap buffers. */
  readonly addressSpaceMb: number
  /** CPU seconds (RLIMIT_CPU) over the process's life. */
  readonly cpuSeconds: number
  /** Processes/threads of the task's user (RLIMIT_NPROC); only applied with a user of its own. */
  readonly maxProcesses: number
  /** Largest file it may write (RLIMIT_FSIZE), bytes. */
  readonly maxFileBytes: number
  /** Open files (RLIMIT_NOFILE). */
  readonly maxOpenFiles: number
}

/** The requested tier cannot run here. */
export class SandboxUnavailable extends Data.TaggedError("SandboxUnavailable")<{
  readonly tier: SandboxTier
  readonly reason: string
}> {
  override get message(): string {
    return `The ${this.tier} sandbox is not available: ${this.reason}`
  }
}

/** How to start one jailed process. */
export interface JailSpec {
  /** The interpreter (node, python3): bound into the jail with its shared libraries. */
  readonly program: string
  /** Everything after the program. */
  readonly args: ReadonlyArray<string>
  /** Host paths the child may read (scripts, the interpreter's library folders). Directories are bound whole. */
  readonly readable: ReadonlyArray<string>
  readonly limits: ProcessLimits
  /** A per-process user id (used when the runner is root), so tasks cannot signal or trace each other. */
  readonly uid: number | undefined
  /**
   * Stay root with only CAP_SETUID, CAP_SETGID and CAP_KILL (when the runner is root): for the
   * Python fork server, whose children each switch to a user of their own before running
   * anything, and which must still be able to stop them.
   */
  readonly keepSetuid?: boolean
  /**
   * Shared objects the program loads later (Python's extension modules): their libraries are
   * bound too (libffi for ctypes, libsqlite3, ...).
   */
  readonly loads?: ReadonlyArray<string>
}

/** A command line: the program and its arguments. */
export interface Command {
  readonly file: string
  readonly args: ReadonlyArray<string>
}

/** A working jail: its tier, what is missing for a stronger one, and how to start a process in it. */
export interface Sandbox {
  readonly tier: SandboxTier
  /** Why a stronger tier is not in use (empty at `bwrap`). */
  readonly degradedBecause: ReadonlyArray<string>
  /** Whether per-task users are in effect (the runner is root and `setpriv` exists). */
  readonly separateUsers: boolean
  readonly command: (spec: JailSpec) => Command
}

const searchDirs = ["/usr/bin", "/bin", "/usr/sbin", "/sbin", "/usr/local/bin"]

/** A system tool by name, from the usual directories (not from PATH, which the runner's env controls). */
const findTool = (name: string): string | undefined => {
  for (const dir of searchDirs) {
    const path = `${dir}/${name}`
    try {
      accessSync(path, constants.X_OK)
      return path
    } catch {
      // not here
    }
  }
  return undefined
}

/** The library paths in `ldd` output. */
const lddPaths = (output: string): Array<string> => {
  const paths: Array<string> = []
  for (const line of output.split("\n")) {
    const arrow = /=>\s+(\/\S+)/.exec(line)
    const bare = /^\s*(\/\S+)\s+\(/.exec(line)
    const path = arrow?.[1] ?? bare?.[1]
    if (path !== undefined) paths.push(path)
  }
  return paths
}

/**
 * The shared libraries (and the ELF interpreter) binaries load, from one `ldd` run. Undefined
 * when nothing could be learned (no ldd, a static binary).
 */
const sharedLibraries = (
  binaries: ReadonlyArray<string>,
  ldd: string | undefined
): ReadonlyArray<string> | undefined => {
  if (ldd === undefined || binaries.length === 0) return undefined
  let output: string
  try {
    output = execFileSync(ldd, [...binaries], {
      encoding: "utf8",
      timeout: 20_000,
      stdio: ["ignore", "pipe", "ignore"]
    })
  } catch (error) {
    // ldd fails when any one file is not dynamic; what it printed for the others still counts.
    const stdout = (error as { stdout?: unknown }).stdout
    output = typeof stdout === "string" ? stdout : ""
  }
  const paths = lddPaths(output)
  return paths.length === 0 ? undefined : paths
}

const isRoot = () => typeof process.getuid === "function" && process.getuid() === 0

/** Node's flag for its permission model: `--permission` from 22.13 (and 23.5), experimental before. */
export const permissionFlag = (version: string = process.versions.node): string => {
  const [major = 0, minor = 0] = version.split(".").map(Number)
  return major > 23 || (major === 23 && minor >= 5) || (major === 22 && minor >= 13)
    ? "--permission"
    : "--experimental-permission"
}

const prlimitArgs = (prlimit: string, limits: ProcessLimits, withProcesses: boolean): Array<string> => [
  prlimit,
  `--as=${limits.addressSpaceMb * 1024 * 1024}`,
  `--cpu=${limits.cpuSeconds}`,
  `--fsize=${limits.maxFileBytes}`,
  `--nofile=${limits.maxOpenFiles}`,
  "--core=0",
  ...(withProcesses ? [`--nproc=${limits.maxProcesses}`] : []),
  "--"
]

const setprivArgs = (setpriv: string, uid: number | undefined, keepSetuid: boolean): Array<string> => [
  setpriv,
  ...(uid === undefined ? [] : [`--reuid=${uid}`, `--regid=${uid}`, "--clear-groups"]),
  ...(keepSetuid ? ["--bounding-set=-all,+setuid,+setgid,+kill", "--inh-caps=-all"] : []),
  "--no-new-privs",
  "--pdeathsig=KILL",
  "--"
]

interface Tools {
  readonly bwrap: string | undefined
  readonly unshare: string | undefined
  readonly prlimit: string | undefined
  readonly setpriv: string | undefined
  readonly ldd: string | undefined
}

const tools = (): Tools => ({
  bwrap: findTool("bwrap"),
  unshare: findTool("unshare"),
  prlimit: findTool("prlimit"),
  setpriv: findTool("setpriv"),
  ldd: findTool("ldd")
})

/** The common tail of every tier: setpriv, prlimit, the program. */
const innerCommand = (found: Tools, spec: JailSpec, root: boolean): Array<string> => {
  const keepSetuid = root && spec.keepSetuid === true
  const uid = root && !keepSetuid ? spec.uid : undefined
  return [
    ...(found.setpriv === undefined ? [] : setprivArgs(found.setpriv, uid, keepSetuid)),
    ...(found.prlimit === undefined
      ? []
      : prlimitArgs(found.prlimit, spec.limits, uid !== undefined && found.setpriv !== undefined)),
    spec.program,
    ...spec.args
  ]
}

/** Every directory above `path`, outermost first (`/a/b/c` -> `/a`, `/a/b`). */
const ancestors = (path: string): Array<string> => {
  const out: Array<string> = []
  for (let dir = dirname(path); dir !== "/" && dir !== "."; dir = dirname(dir)) out.unshift(dir)
  return out
}

const bwrapCommand = (found: Tools & { bwrap: string }, root: boolean) => {
  const librariesOf = new Map<string, ReadonlyArray<string> | undefined>()
  const libraries = (binaries: ReadonlyArray<string>) => {
    const key = binaries.join("\0")
    if (!librariesOf.has(key)) librariesOf.set(key, sharedLibraries(binaries, found.ldd))
    return librariesOf.get(key)
  }
  const fallbackDirs = ["/lib", "/lib64", "/usr/lib", "/usr/lib64"].filter((d) => existsSync(d))
  return (spec: JailSpec): Command => {
    const binaries = [spec.program, found.setpriv, found.prlimit].filter((p): p is string => p !== undefined)
    const paths: Array<string> = [...binaries, ...spec.readable]
    for (const binary of binaries) paths.push(...(libraries([binary]) ?? fallbackDirs))
    // Extension modules that cannot be inspected simply find no extra libraries (they fail to load).
    if (spec.loads !== undefined) paths.push(...(libraries(spec.loads) ?? []))
    const binds = new Map<string, string>()
    for (const path of paths) {
      if (existsSync(path)) binds.set(path, realpathSync(path))
    }
    const dirs = new Set<string>()
    for (const target of binds.keys()) for (const dir of ancestors(target)) dirs.add(dir)
    // Directories bwrap would create for the binds get explicit permissions, so the
    // unprivileged task user can traverse them.
    const dirArgs = [...dirs].sort((a, b) => a.split("/").length - b.split("/").length || a.localeCompare(b))
      .flatMap((dir) => ["--perms", "0755", "--dir", dir])
    const bindArgs = [...binds].flatMap(([target, source]) => ["--ro-bind", source, target])
    const keepSetuid = root && spec.keepSetuid === true
    return {
      file: found.bwrap,
      args: [
        ...(root
          ? ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try"]
          : ["--unshare-all"]),
        "--die-with-parent",
        "--new-session",
        "--clearenv",
        "--unsetenv",
        "PWD",
        ...(keepSetuid
          ? ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", "--cap-add", "CAP_KILL"]
          : []),
        // Mounts first, binds after: a bind below /tmp must not be hidden by the private /tmp.
        // It is memory: bounded, so that a task allowed to write there cannot fill the host's RAM.
        "--size",
        String(jailTmpBytes),
        "--tmpfs",
        "/tmp",
        "--dev",
        "/dev",
        "--proc",
        "/proc",
        ...dirArgs,
        ...bindArgs,
        "--chdir",
        "/tmp",
        "--",
        ...innerCommand(found, spec, root)
      ]
    }
  }
}

const unshareCommand = (found: Tools & { unshare: string }, root: boolean) => (spec: JailSpec): Command => ({
  file: found.unshare,
  args: [
    ...(root ? [] : ["--user", "--map-root-user"]),
    "--net",
    "--ipc",
    "--pid",
    "--uts",
    "--fork",
    "--kill-child",
    "--",
    ...innerCommand(found, spec, root)
  ]
})

const plainCommand = (found: Tools, root: boolean) => (spec: JailSpec): Command => {
  const [file, ...args] = innerCommand(found, spec, root)
  return { file: file!, args }
}

/** Runs the probe through a candidate jail: it works or it does not. */
const works = (command: (spec: JailSpec) => Command, probe: JailSpec): string | undefined => {
  const { args, file } = command(probe)
  const run = spawnSync(file, [...args], { env: {}, timeout: 20_000, encoding: "utf8" })
  if (run.error !== undefined) return run.error.message
  if (run.status !== 0) {
    const lines = (run.stderr ?? "").split("\n").map((l) => l.trim()).filter((l) =>
      l !== "" && !l.startsWith("Node.js v")
    )
    return `exit ${run.status ?? run.signal}: ${lines.slice(-3).join(" ")}`
  }
  return undefined
}

/**
 * Finds the strongest working tier (`auto`), or checks the requested one. Each candidate is
 * proven by starting a real process in it. An explicitly requested tier that does not work is
 * an error, never a silent downgrade.
 */
export const detectSandbox = (options: {
  readonly setting: SandboxSetting
  /** A process that exits 0, used to prove a tier works. */
  readonly probe: JailSpec
}): Effect.Effect<Sandbox, SandboxUnavailable> =>
  Effect.sync(() => {
    const found = tools()
    const root = isRoot()
    const separateUsers = root && found.setpriv !== undefined
    const missing = (["prlimit", "setpriv"] as const).filter((t) => found[t] === undefined).map((t) =>
      `${t} is not installed`
    )
    const candidates: Array<{ tier: SandboxTier; build: () => ((spec: JailSpec) => Command) | string }> = [
      {
        tier: "bwrap",
        build: () =>
          found.bwrap === undefined
            ? "bwrap is not installed (Debian: apt-get install bubblewrap)"
            : bwrapCommand({ ...found, bwrap: found.bwrap }, root)
      },
      {
        tier: "unshare",
        build: () =>
          found.unshare === undefined
            ? "unshare is not installed (util-linux)"
            : unshareCommand({ ...found, unshare: found.unshare }, root)
      },
      { tier: "none", build: () => plainCommand(found, root) }
    ]
    const wanted = options.setting === "auto" ? candidates : candidates.filter((c) => c.tier === options.setting)
    const reasons: Array<string> = []
    for (const candidate of wanted) {
      const built = candidate.build()
      const failure = typeof built === "string" ? built : works(built, options.probe)
      if (failure === undefined && typeof built !== "string") {
        return {
          _tag: "found" as const,
          sandbox: { tier: candidate.tier, degradedBecause: [...reasons, ...missing], separateUsers, command: built }
        }
      }
      reasons.push(`${candidate.tier}: ${failure}`)
    }
    return { _tag: "missing" as const, tier: wanted[0]?.tier ?? "none", reason: reasons.join("; ") }
  }).pipe(
    Effect.flatMap((outcome) =>
      outcome._tag === "found"
        ? Effect.succeed(outcome.sandbox)
        : Effect.fail(new SandboxUnavailable({ tier: outcome.tier, reason: outcome.reason }))
    )
  )
