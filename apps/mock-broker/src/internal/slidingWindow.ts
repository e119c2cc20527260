/**
 * Counts events in the last `windowMs` and says whether one more is allowed (n8n allows 5 auth
 * requests and 5 upgrades per second). A limit of 0 allows everything.
 */
export const makeSlidingWindow = (limit: number, windowMs: number, now: () => number = Date.now) => {
  const stamps: Array<number> = []
  return (): boolean => {
    if (limit === 0) return true
    const t = now()
    while (stamps.length > 0 && stamps[0]! <= t - windowMs) stamps.shift()
    if (stamps.length >= limit) return false
    stamps.push(t)
    return true
  }
}
