// Opens amrepo serve's status page in headless Chromium (Debian's, through playwright-core) and
// prints what it shows as one JSON line, after the page has polled /status.json at least twice:
//   node status-page.mjs http://127.0.0.1:PORT/[#token=TOKEN] [SCREENSHOT.png]
// Used by tests/tools/amrepo_service_test.cc, which compares the numbers with /metrics.
import fs from "node:fs"
import { chromium } from "playwright-core"

const [url, screenshot] = process.argv.slice(2)
if (!url) {
  console.error("usage: node status-page.mjs URL [SCREENSHOT.png]")
  process.exit(2)
}
const chromiumPath = process.env.AM_CHROMIUM ?? "/usr/bin/chromium"
if (!fs.existsSync(chromiumPath)) {
  console.error(`no Chromium at ${chromiumPath} (scripts/install-deps.sh installs Debian's chromium)`)
  process.exit(1)
}
const browser = await chromium.launch({ executablePath: chromiumPath, args: ["--no-sandbox"] })
try {
  const page = await browser.newPage()
  const errors = []
  page.on("pageerror", e => errors.push(String(e)))
  // Only the server itself may be asked for anything: the page is self-contained.
  const origin = new URL(url).origin
  const foreign = []
  page.on("request", r => { if (!r.url().startsWith(origin)) foreign.push(r.url()) })
  await page.goto(url)
  await page.waitForFunction(() => Number(document.body.dataset.polls ?? 0) >= 2, null, { timeout: 20000 })
  const shown = await page.evaluate(() => {
    const value = id => Number(document.getElementById(id).dataset.value)
    const ids = table => [...document.querySelectorAll(`#${table} td`)].map(td => td.textContent)
    return {
      connections: value("connections"),
      peers: value("peers"),
      open_documents: value("open_documents"),
      latency_count: value("latency_count"),
      uptime: document.getElementById("uptime").textContent,
      messages_rate: document.getElementById("messages_rate").textContent,
      bars: [...document.querySelectorAll("#chart rect.bar")].map(r => Number(r.dataset.count)),
      documents: ids("documents"),
      peer_ids: ids("peer_ids"),
      admin_text: document.getElementById("admin").textContent,
      error: document.getElementById("error").textContent,
    }
  })
  if (screenshot) await page.screenshot({ path: screenshot, fullPage: true })
  console.log(JSON.stringify({ ...shown, page_errors: errors, foreign_requests: foreign }))
} finally {
  await browser.close()
}
