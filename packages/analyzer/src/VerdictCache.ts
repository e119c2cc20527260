import { createHash } from "node:crypto"

/**
 * A least-recently-used cache of verdicts keyed by SHA-256 of (policy fingerprint, code), so the
 * code itself is not retained. n8n's Python runner keeps 500 verdicts; so do we.
 */
export class VerdictCache<V> {
  private readonly entries = new Map<string, V>()

  constructor(private readonly fingerprint: string, private readonly capacity = 500) {}

  key(code: string): string {
    return createHash("sha256").update(this.fingerprint).update("\0").update(code).digest("base64")
  }

  /** The cached verdict for `key`, marking it most recently used. */
  lookup(key: string): V | undefined {
    const hit = this.entries.get(key)
    if (hit !== undefined) {
      this.entries.delete(key)
      this.entries.set(key, hit)
    }
    return hit
  }

  /** Caches a verdict, evicting the least recently used one at capacity. */
  store(key: string, verdict: V): void {
    if (!this.entries.has(key) && this.entries.size >= this.capacity) {
      const oldest = this.entries.keys().next()
      if (oldest.done !== true) this.entries.delete(oldest.value)
    }
    this.entries.set(key, verdict)
  }

  /** The cached verdict, or `compute`'s, which is then cached. */
  getOrCompute(code: string, compute: (code: string) => V): V {
    const key = this.key(code)
    const hit = this.entries.get(key)
    if (hit !== undefined) {
      // Re-insert to mark it most recently used.
      this.entries.delete(key)
      this.entries.set(key, hit)
      return hit
    }
    const verdict = compute(code)
    if (this.entries.size >= this.capacity) {
      const oldest = this.entries.keys().next()
      if (oldest.done !== true) this.entries.delete(oldest.value)
    }
    this.entries.set(key, verdict)
    return verdict
  }

  get size(): number {
    return this.entries.size
  }
}
