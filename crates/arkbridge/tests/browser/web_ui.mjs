// The web UI in real headless Chromium, driven by playwright-core against `arkbridge sim` and
// `arkbridge serve` (started by tests/e2e_browser.rs, which passes everything in the
// environment):
//   1. carol signs in at the simulated provider and approves the `restart` write block;
//   2. alice signs in, runs `restart`, and watches its masked output arrive live;
//   3. bob signs in and sees the denial of `health`, with its explanation.
// Screenshots go to SHOTS_DIR. Any failed expectation exits non-zero with the reason.
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
const PLANTED = env("PLANTED");
const RESTART = env("RESTART_PAGE");
const HEALTH = env("HEALTH_PAGE");
const TIMEOUT = 30_000;

// The simulated provider's certificate comes from the simulator's own CA, which this
// throw-away browser profile does not trust; arkbridge itself is served over plain http here.
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox"],
});

/** A fresh browser profile signed in as `email` through the provider's form at `start`. */
async function signIn(email, password, start) {
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  const page = await context.newPage();
  page.setDefaultTimeout(TIMEOUT);
  await page.goto(`${BASE}${start}`);
  // Not signed in: arkbridge sends the browser to the provider's sign-in form.
  await page.waitForSelector('input[name="password"]');
  await page.fill('input[name="username"]', email);
  await page.fill('input[name="password"]', password);
  await Promise.all([
    page.waitForURL((url) => url.href.startsWith(`${BASE}${start}`)),
    page.click('button[type="submit"]'),
  ]);
  const who = await page.textContent("header .user");
  assert.match(who, new RegExp(email.replace(".", "\\.")), "the header names the user");
  return { context, page };
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

try {
  // 1. carol approves the restart block.
  {
    const { context, page } = await signIn(
      "carol@example.com",
      env("CAROL_PASSWORD"),
      `/ui/approvals?page=${RESTART}`,
    );
    await page.getByText("Pending: this block was never approved.").waitFor();
    await shot(page, "1-carol-approval-pending");
    await page.click("button.approve");
    await page.waitForSelector('[data-status="approved"]');
    await shot(page, "2-carol-approved");
    await context.close();
  }

  // 2. alice runs restart and watches the masked output arrive.
  {
    const { context, page } = await signIn("alice@example.com", env("ALICE_PASSWORD"), `/ui/pages/${RESTART}`);
    await page.getByRole("heading", { level: 1, name: "Restart payments API" }).waitFor();
    await page.click("button.run");
    const output = page.locator("pre.output").first();
    // The live region fills while the run goes on; the result arrives last.
    await page.waitForFunction(
      () => document.querySelector("pre.output").textContent.includes("Restarting payments-api"),
    );
    await page.waitForSelector("[data-status]");
    const text = await output.textContent();
    assert.ok(text.includes("payments-api restarted"), `the whole output arrives: ${text}`);
    assert.ok(!text.includes(PLANTED), "the secret is masked in the browser");
    assert.ok(text.includes("DB_PASSWORD="), "the masked line is there");
    const status = await page.getAttribute("[data-status]", "data-status");
    assert.equal(status, "succeeded", `the run succeeded: ${await page.textContent("p.result")}`);
    await shot(page, "3-alice-run-output");
    const html = await page.content();
    assert.ok(!html.includes(PLANTED), "the secret is nowhere in the page");
    await context.close();
  }

  // 3. bob sees the denial of the health check with its reasons.
  {
    const { context, page } = await signIn("bob@example.com", env("BOB_PASSWORD"), `/ui/pages/${HEALTH}`);
    const denial = page.locator(".denied");
    await denial.waitFor();
    assert.equal(await page.locator("button.run").count(), 0, "bob gets no Run button");
    const reasons = await denial.locator("li").allTextContents();
    assert.ok(reasons.length > 0, "the denial explains itself");
    await shot(page, "4-bob-denied");
    await context.close();
  }
  console.log("browser test passed");
} finally {
  await browser.close();
}
