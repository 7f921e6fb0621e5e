// The dashboard's only script: it keeps the API key in sessionStorage (this tab only,
// never a cookie or a URL) and loads each page's server-rendered HTML with it.
"use strict";
(function () {
  const KEY = "ledger.apiKey";
  const panel = document.getElementById("sign-in-panel");
  const form = document.getElementById("sign-in-form");
  const input = document.getElementById("api-key");
  const problem = document.getElementById("sign-in-error");
  const page = document.getElementById("page");
  const nav = document.getElementById("nav");

  function showSignIn(message) {
    page.replaceChildren();
    nav.hidden = true;
    panel.hidden = false;
    problem.hidden = !message;
    problem.textContent = message || "";
    document.body.dataset.state = "signed-out";
    input.focus();
  }

  function fragmentUrl() {
    const path = location.pathname === "/" ? "/leaderboard" : location.pathname;
    return "/ui" + path + location.search;
  }

  async function detail(response) {
    const type = response.headers.get("content-type") || "";
    if (type.includes("json")) {
      const body = await response.json();
      return body.detail || body.title || response.statusText;
    }
    return response.statusText;
  }

  async function load() {
    const key = sessionStorage.getItem(KEY);
    if (!key) {
      showSignIn("");
      return;
    }
    let response;
    try {
      response = await fetch(fragmentUrl(), { headers: { Authorization: "Bearer " + key } });
    } catch (error) {
      showSignIn("The ledger did not answer (" + error.message + "). Try again in a moment.");
      return;
    }
    if (response.status === 401) {
      sessionStorage.removeItem(KEY);
      showSignIn("This API key was not accepted: " + (await detail(response)) +
        ". Check that you pasted the whole key.");
      return;
    }
    panel.hidden = true;
    nav.hidden = false;
    if (response.ok) {
      page.innerHTML = await response.text();  // rendered and escaped by the server
      document.body.dataset.state = "ready";
    } else {
      const note = document.createElement("p");
      note.className = "problem";
      note.dataset.testid = "page-error";
      note.setAttribute("role", "alert");
      note.textContent = "This page cannot be shown (" + response.status + "): " +
        (await detail(response));
      page.replaceChildren(note);
      document.body.dataset.state = "error";
    }
    for (const link of nav.querySelectorAll("a")) {
      if (link.getAttribute("href") === location.pathname) link.setAttribute("aria-current", "page");
    }
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    sessionStorage.setItem(KEY, input.value.trim());
    input.value = "";
    load();
  });
  document.getElementById("sign-out").addEventListener("click", function () {
    sessionStorage.removeItem(KEY);
    showSignIn("");
  });
  load();
})();
