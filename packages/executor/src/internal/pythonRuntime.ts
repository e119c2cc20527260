import { Either } from "effect"
import { spawnSync } from "node:child_process"
import { accessSync, constants, realpathSync } from "node:fs"

/** A usable CPython: where it is, and the folders it loads its standard library from. */
export interface PythonRuntime {
  /** The interpreter's real path (so the jail can bind it). */
  readonly path: string
  readonly version: string
  /** Standard library folders (bound read-only into the jail). */
  readonly stdlib: ReadonlyArray<string>
  /** Folders of installed packages (bound only when external packages are allowed). */
  readonly sitePackages: ReadonlyArray<string>
  /** The standard library's extension modules (their shared libraries are bound into the jail). */
  readonly extensions: ReadonlyArray<string>
}

const candidates = ["/usr/bin/python3", "/usr/local/bin/python3", "/bin/python3"]

const probe = `import json, os, sys, sysconfig
paths = sysconfig.get_paths()
site = sorted({p for p in sys.path if p.endswith(("site-packages", "dist-packages"))} | {paths["purelib"], paths["platlib"]})
dynload = [p for p in sys.path if p.endswith("lib-dynload")]
ext = sorted(os.path.join(d, f) for d in dynload if os.path.isdir(d) for f in os.listdir(d) if f.endswith(".so"))
print(json.dumps({"version": list(sys.version_info[:3]), "stdlib": sorted({paths["stdlib"], paths["platstdlib"], *dynload}), "site": site, "ext": ext}))`

interface ProbeResult {
  readonly version: readonly [number, number, number]
  readonly stdlib: ReadonlyArray<string>
  readonly site: ReadonlyArray<string>
  readonly ext: ReadonlyArray<string>
}

const isStrings = (value: unknown): value is ReadonlyArray<string> =>
  Array.isArray(value) && value.every((entry) => typeof entry === "string")

/** The probe's answer, or undefined when the program printed something else. */
const probeResult = (stdout: string): ProbeResult | undefined => {
  let parsed: unknown
  try {
    parsed = JSON.parse(stdout)
  } catch {
    return undefined
  }
  if (typeof parsed !== "object" || parsed === null) return undefined
  const { ext, site, stdlib, version } = parsed as Record<string, unknown>
  return Array.isArray(version) && version.length === 3 && version.every((n) => Number.isInteger(n)) &&
      isStrings(stdlib) && isStrings(site) && isStrings(ext)
    ? { version: version as unknown as readonly [number, number, number], stdlib, site, ext }
    : undefined
}

/**
 * Finds Python >= 3.10: the configured interpreter, or the system's (not one from PATH, which the
 * runner's environment controls). Left: why Python tasks cannot be offered.
 */
export const detectPython = (configured: string | undefined): Either.Either<PythonRuntime, string> => {
  const tried: Array<string> = []
  for (const path of configured === undefined ? candidates : [configured]) {
    try {
      accessSync(path, constants.X_OK)
    } catch {
      tried.push(`${path}: not found`)
      continue
    }
    const run = spawnSync(path, ["-I", "-c", probe], { encoding: "utf8", timeout: 10_000, env: {} })
    if (run.status !== 0) {
      tried.push(`${path}: does not start (${(run.stderr ?? "").trim().split("\n").at(-1) ?? run.error?.message})`)
      continue
    }
    const info = probeResult(run.stdout)
    if (info === undefined) {
      tried.push(`${path}: is not a CPython that answers the probe`)
      continue
    }
    const [major, minor] = info.version
    if (major < 3 || (major === 3 && minor < 10)) {
      tried.push(`${path}: Python ${info.version.join(".")} is older than 3.10`)
      continue
    }
    return Either.right({
      path: realpathSync(path),
      version: info.version.join("."),
      stdlib: info.stdlib,
      sitePackages: info.site,
      extensions: info.ext
    })
  }
  return Either.left(`no Python 3.10 or newer (${tried.join("; ")})`)
}
