// Proves a jail works: a process that starts and exits 0.
process.exit(0)
