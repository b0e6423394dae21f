// The web UI's script: starts runs and follows their masked output through the API.
//
// A Run button posts to /api/v1/runs with the session's CSRF token (the session cookie goes
// along by itself), then follows /api/v1/runs/{id}/events (Server-Sent Events): each `output`
// event's text is appended to the block's live region as text (never as markup), and the
// `done` event's status ends it. A denial shows the policy's reasons.
"use strict";

function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.getAttribute("content") : "";
}

function showReasons(result, message, reasons) {
  result.textContent = message;
  if (Array.isArray(reasons) && reasons.length > 0) {
    const list = document.createElement("ul");
    for (const reason of reasons) {
      const item = document.createElement("li");
      item.textContent = reason;
      list.appendChild(item);
    }
    result.appendChild(list);
  }
  result.setAttribute("role", "alert");
}

async function startRun(button) {
  const output = document.getElementById(button.dataset.output);
  const result = document.getElementById(button.dataset.result);
  output.textContent = "";
  result.textContent = "Starting…";
  button.disabled = true;
  let answer;
  try {
    const response = await fetch("/api/v1/runs", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfToken() },
      body: JSON.stringify({ page_id: button.dataset.page, block: button.dataset.block }),
    });
    answer = { status: response.status, body: await response.json() };
  } catch (e) {
    result.textContent = "The run could not be started: " + e;
    button.disabled = false;
    return;
  }
  if (answer.status !== 202) {
    showReasons(result, "Not started: " + (answer.body.error || answer.status), answer.body.reasons);
    button.disabled = false;
    return;
  }
  result.textContent = "Running (run " + answer.body.run_id + ")…";
  const events = new EventSource(answer.body.events, { withCredentials: true });
  events.addEventListener("output", (event) => {
    const chunk = JSON.parse(event.data);
    output.textContent += chunk.text;
  });
  events.addEventListener("done", (event) => {
    const done = JSON.parse(event.data);
    let text = "Finished: " + done.status;
    if (done.exit_code !== null && done.exit_code !== undefined) {
      text += " (exit code " + done.exit_code + ")";
    }
    result.textContent = text + ".";
    result.dataset.status = done.status;
    events.close();
    button.disabled = false;
  });
  events.onerror = () => {
    if (events.readyState === EventSource.CLOSED) {
      result.textContent = "The output stream ended unexpectedly.";
      button.disabled = false;
    }
  };
}

document.addEventListener("DOMContentLoaded", () => {
  for (const button of document.querySelectorAll("button.run")) {
    button.addEventListener("click", () => startRun(button));
  }
});

// An Approve button posts to /api/v1/approvals; the engine applies the approval rules.
async function approve(button) {
  const result = document.getElementById(button.dataset.result);
  button.disabled = true;
  result.textContent = "Approving…";
  try {
    const response = await fetch("/api/v1/approvals", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfToken() },
      body: JSON.stringify({ page_id: button.dataset.page, block: button.dataset.block }),
    });
    const body = await response.json();
    if (response.status === 201) {
      result.textContent = "Approved (script " + body.script_sha256 + ").";
      result.dataset.status = "approved";
      return;
    }
    showReasons(result, "Not approved: " + (body.error || response.status), body.reasons);
  } catch (e) {
    result.textContent = "The approval could not be sent: " + e;
  }
  button.disabled = false;
}

document.addEventListener("DOMContentLoaded", () => {
  for (const button of document.querySelectorAll("button.approve")) {
    button.addEventListener("click", () => approve(button));
  }
});
