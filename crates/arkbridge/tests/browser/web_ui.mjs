// The web UI of `arkbridge demo` in real headless Chromium, driven by playwright-core. The Rust
// test (tests/e2e_browser.rs) starts the demo and runs this script once per scenario, in order,
// checking the simulators between them:
//   node web_ui.mjs alice  signs in, runs `restart`, watches its masked output arrive live;
//   node web_ui.mjs bob    signs in and sees the denial of `restart` with its reasons;
//   node web_ui.mjs carol  signs in, approves the edited `restart` block, and sees it approved.
// Everything else comes in the environment. SECRETS is a JSON array of values that must appear
// nowhere in the browser; they are never printed. Screenshots go to SHOTS_DIR. The last line of
// stdout is the scenario's result as JSON; any failed expectation exits non-zero with the reason.
import { chromium } from "playwright-core";
import assert from "node:assert/strict";
import path from "node:path";

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`environment variable ${name} is not set`);
  return value;
};
const BASE = env("BASE_URL");
const SHOTS = env("SHOTS_DIR");
const SECRETS = JSON.parse(env("SECRETS"));
const RESTART = env("RESTART_PAGE");
const EMAIL = env("EMAIL");
const TIMEOUT = 30_000;

// The simulated provider's certificate comes from the simulators' own CA, which this
// throw-away browser profile does not trust; arkbridge itself is served over plain http here.
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox"],
});

/** A fresh browser profile signed in as EMAIL through the provider's form, at `start`. */
async function signIn(start) {
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  const page = await context.newPage();
  page.setDefaultTimeout(TIMEOUT);
  await page.goto(`${BASE}${start}`);
  // Not signed in: arkbridge sends the browser to the provider's sign-in form.
  await page.waitForSelector('input[name="password"]');
  await page.fill('input[name="username"]', EMAIL);
  await page.fill('input[name="password"]', env("PASSWORD"));
  await Promise.all([
    page.waitForURL((url) => url.href.startsWith(`${BASE}${start}`)),
    page.click('button[type="submit"]'),
  ]);
  const who = await page.textContent("header .user");
  assert.ok(who.includes(EMAIL), `the header names ${EMAIL}: ${who}`);
  return { context, page };
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

/** Fails when any secret is in the page's markup (the values themselves are never printed). */
async function assertNoSecret(page, what) {
  const html = await page.content();
  SECRETS.forEach((secret, i) => assert.ok(!html.includes(secret), `secret #${i} is in ${what}`));
}

/** alice runs `restart` and watches its masked output arrive while the run goes on. */
async function alice() {
  const { context, page } = await signIn(`/ui/pages/${RESTART}`);
  await page.getByRole("heading", { level: 1, name: "Restart payments API" }).waitFor();
  const run = page.getByRole("button", { name: "Run restart" });
  const output = page.locator(`#${await run.getAttribute("data-output")}`);
  const result = page.locator(`#${await run.getAttribute("data-result")}`);
  // Records every change of the output region, and whether the run had ended by then.
  await page.evaluate(
    ([outputId, resultId]) => {
      const out = document.getElementById(outputId);
      const res = document.getElementById(resultId);
      window.outputUpdates = [];
      new MutationObserver(() => {
        window.outputUpdates.push({ text: out.textContent, ended: "status" in res.dataset });
      }).observe(out, { childList: true, characterData: true, subtree: true });
    },
    [await run.getAttribute("data-output"), await run.getAttribute("data-result")],
  );
  const [started] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith("/api/v1/runs") && r.request().method() === "POST"),
    run.click(),
  ]);
  assert.equal(started.status(), 202, "the run was started");
  const runId = (await started.json()).run_id;
  await page.waitForFunction(() => window.outputUpdates.some((u) => u.text.length > 0));
  await shot(page, "1-alice-output-live");
  await result.and(page.locator("[data-status]")).waitFor();
  const status = await result.getAttribute("data-status");
  assert.equal(status, "succeeded", `the run succeeded: ${await result.textContent()}`);

  const updates = (await page.evaluate(() => window.outputUpdates)).filter(
    (u, i, all) => u.text.length > 0 && (i === 0 || u.text !== all[i - 1].text),
  );
  const live = updates.filter((u) => !u.ended);
  assert.ok(live.length >= 2, `at least two output updates before the run ended: ${JSON.stringify(updates)}`);
  assert.ok(
    !live[0].text.includes("payments-api restarted"),
    `the output arrived in parts, not all at the end: ${JSON.stringify(live)}`,
  );
  const text = await output.textContent();
  assert.ok(text.includes("DB_PASSWORD=*****"), `the secret's line is there, masked: ${text}`);
  assert.ok(text.includes("payments-api restarted"), `the whole output arrived: ${text}`);
  await assertNoSecret(page, "alice's runbook view");
  await shot(page, "2-alice-run-finished");
  // The API's run (with the session's cookie) names the engine's run, which the page's
  // comment and the audit log know it by.
  const record = await page.request.get(`${BASE}/api/v1/runs/${runId}`);
  assert.equal(record.status(), 200, `the API knows run ${runId}`);
  const engineRun = (await record.json()).run_id;
  await context.close();
  return { api_run: runId, run_id: engineRun, live_updates: live.length };
}

/** bob may not run `restart`: the view says so, with every reason, and has no Run button. */
async function bob() {
  const { context, page } = await signIn(`/ui/pages/${RESTART}`);
  const denial = page.getByRole("alert").filter({ hasText: "You may not run this block" });
  await denial.waitFor();
  assert.equal(await page.getByRole("button", { name: "Run restart" }).count(), 0, "bob has no Run button");
  const reasons = (await denial.getByRole("listitem").allTextContents()).map((r) => r.trim());
  assert.ok(reasons.length > 0, "the denial explains itself");
  await assertNoSecret(page, "bob's runbook view");
  await shot(page, "3-bob-denied");
  await context.close();
  return { reasons };
}

/** carol approves the edited `restart` block; the approvals view then shows it approved. */
async function carol() {
  const start = `/ui/approvals?page=${RESTART}`;
  const { context, page } = await signIn(start);
  const approve = page.getByRole("button", { name: "Approve restart" });
  await approve.waitFor();
  await page.getByText("Pending:", { exact: false }).first().waitFor();
  const script = await page.getByLabel("Current script of restart").textContent();
  assert.ok(script.includes(env("EDIT_MARK")), `the view shows the edited script: ${script}`);
  await shot(page, "4-carol-approval-pending");
  const [answer] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith("/api/v1/approvals") && r.request().method() === "POST"),
    approve.click(),
  ]);
  assert.equal(answer.status(), 201, `the approval was recorded: ${await answer.text()}`);
  const approved = (await answer.json()).script_sha256;
  await page.getByRole("status").filter({ hasText: "Approved" }).waitFor();
  // Read again, the page shows the block approved and offers no Approve button.
  await page.reload();
  await page.getByText("This exact script is approved.").waitFor();
  assert.equal(await approve.count(), 0, "nothing left to approve");
  await assertNoSecret(page, "carol's approvals view");
  await shot(page, "5-carol-approved");
  await context.close();
  return { approved };
}

const scenarios = { alice, bob, carol };
const scenario = scenarios[process.argv[2]];
if (!scenario) throw new Error(`usage: node web_ui.mjs ${Object.keys(scenarios).join("|")}`);
try {
  console.log(JSON.stringify(await scenario()));
} finally {
  await browser.close();
}
