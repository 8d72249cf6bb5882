// Starts a private, loopback-only Bluesky network (PLC, PDS, appview, bsync,
// ozone) from @atproto/dev-env for the helphive integration tests.
//
// Needs Node >= 22 and two env vars read by @atproto/dev-env:
//   DB_POSTGRES_URL  postgresql://user@127.0.0.1:PORT/db   (required)
//   REDIS_HOST       127.0.0.1:PORT                         (required by dev-env)
// Optional:
//   DEVNET_BRAND_HANDLE / DEVNET_BRAND_PASSWORD       (brand.test / brand-pass)
//   DEVNET_CUSTOMER_HANDLE / DEVNET_CUSTOMER_PASSWORD (customer.test / customer-pass)
//   DEVNET_PROCESS_INTERVAL_MS  if > 0, also run network.processAll() this
//                               often (default 0: the appview follows the PDS
//                               firehose on its own)
//   DEVNET_WATCH_STDIN  1 = exit when stdin closes, 0 = ignore stdin,
//                       unset = watch only when stdin is a pipe or socket
//
// Prints exactly one JSON line on stdout once ready:
//   {"pds":"http://127.0.0.1:P","appview":"http://127.0.0.1:P",
//    "brand":{"handle","did","password"},"customer":{...}}
// Everything else goes to stderr. Shuts down on SIGTERM, SIGINT or stdin EOF.

import dns from 'node:dns'
import fs from 'node:fs'
import net from 'node:net'

const LOOPBACK = '127.0.0.1'

// --- keep stdout clean: only the ready line goes to fd 1 -------------------
const writeStdoutLine = (line) => fs.writeSync(1, line + '\n')
process.stdout.write = process.stderr.write.bind(process.stderr)
for (const k of ['log', 'info', 'debug']) console[k] = console.error
process.env.LOG_ENABLED ??= 'false'

// --- loopback only -----------------------------------------------------------
// The dev-env services call listen(port) without a host, which would bind all
// interfaces. Default every host-less TCP listen to 127.0.0.1, and make the
// "localhost" URLs the services use for each other resolve to IPv4 first.
dns.setDefaultResultOrder('ipv4first')
const origListen = net.Server.prototype.listen
net.Server.prototype.listen = function (...args) {
  const [first, second] = args
  if (typeof first === 'number' || (typeof first === 'string' && /^\d+$/.test(first))) {
    if (typeof second !== 'string') args.splice(1, 0, LOOPBACK)
  } else if (
    first && typeof first === 'object' && !Array.isArray(first) &&
    first.host === undefined && first.path === undefined &&
    first.fd === undefined && first.handle === undefined &&
    !(first instanceof net.Server) && !('_handle' in first)
  ) {
    args[0] = { ...first, host: LOOPBACK }
  } else if (first === undefined || typeof first === 'function') {
    args.unshift(0, LOOPBACK)
  }
  return origListen.apply(this, args)
}

const log = (...a) => console.error('[devnet]', ...a)

for (const v of ['DB_POSTGRES_URL', 'REDIS_HOST']) {
  if (!process.env[v]) {
    log(`missing env ${v}`)
    process.exit(2)
  }
}

const { TestNetwork } = await import('@atproto/dev-env')

let network
let shuttingDown = false
let processTimer
const shutdown = async (why, code = 0) => {
  if (shuttingDown) return
  shuttingDown = true
  log(`shutting down (${why})`)
  if (processTimer) clearInterval(processTimer)
  const force = setTimeout(() => {
    log('close() took too long, exiting anyway')
    process.exit(code || 1)
  }, 30_000)
  force.unref()
  try {
    if (network) await network.close()
  } catch (err) {
    log('error during close:', err?.stack ?? err)
  }
  process.exit(code)
}
process.on('SIGTERM', () => void shutdown('SIGTERM'))
process.on('SIGINT', () => void shutdown('SIGINT'))
process.on('SIGHUP', () => void shutdown('SIGHUP'))

const watchStdin = (() => {
  const v = process.env.DEVNET_WATCH_STDIN
  if (v === '1') return true
  if (v === '0') return false
  try {
    const st = fs.fstatSync(0)
    return st.isFIFO() || st.isSocket()
  } catch {
    return false
  }
})()
if (watchStdin) {
  process.stdin.on('data', () => {})
  process.stdin.on('end', () => void shutdown('stdin closed'))
  process.stdin.on('error', () => void shutdown('stdin error'))
  process.stdin.resume()
}

const xrpc = async (base, nsid, body, token) => {
  const res = await fetch(`${base}/xrpc/${nsid}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify(body),
  })
  const text = await res.text()
  if (!res.ok) throw new Error(`${nsid} -> ${res.status}: ${text}`)
  return JSON.parse(text)
}

try {
  const t0 = Date.now()
  network = await TestNetwork.create({
    dbPostgresSchema: process.env.DB_POSTGRES_SCHEMA || 'helphive',
  })
  log(`network up in ${Date.now() - t0} ms`)

  const pds = `http://${LOOPBACK}:${network.pds.port}`
  const appview = `http://${LOOPBACK}:${network.bsky.port}`

  const mk = async (handle, password) => {
    const email = `${handle.replace(/[^a-z0-9]/gi, '-')}@helphive.invalid`
    const out = await xrpc(pds, 'com.atproto.server.createAccount', {
      handle,
      email,
      password,
    })
    return { handle: out.handle, did: out.did, password }
  }
  const brand = await mk(
    process.env.DEVNET_BRAND_HANDLE || 'brand.test',
    process.env.DEVNET_BRAND_PASSWORD || 'brand-pass',
  )
  const customer = await mk(
    process.env.DEVNET_CUSTOMER_HANDLE || 'customer.test',
    process.env.DEVNET_CUSTOMER_PASSWORD || 'customer-pass',
  )
  // Make sure the appview has indexed both accounts before anyone uses them.
  await network.processAll()

  const interval = Number(process.env.DEVNET_PROCESS_INTERVAL_MS || 0)
  if (interval > 0) {
    let busy = false
    processTimer = setInterval(async () => {
      if (busy || shuttingDown) return
      busy = true
      try {
        await network.processAll()
      } catch (err) {
        log('processAll failed:', err?.message ?? err)
      } finally {
        busy = false
      }
    }, interval)
  }

  log(`ready in ${Date.now() - t0} ms: pds ${pds}, appview ${appview}`)
  writeStdoutLine(JSON.stringify({ pds, appview, brand, customer }))
} catch (err) {
  log('failed to start:', err?.stack ?? err)
  await shutdown('startup failure', 1)
}
